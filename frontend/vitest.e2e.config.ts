// The browser tests (e2e/): one file, one conversation, run in order against
// the local stack that scripts/test-e2e.sh starts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A failed step leaves the next ones without their precondition; stop there.
    bail: 1,
  },
});
