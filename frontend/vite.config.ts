// Vite builds the page into dist/ (relative asset paths, so it works under any
// prefix); the runtime-config plugin adds dist/config.json when the build has a
// WebSocket URL to pass on. Unit tests run in Node: the code under test never
// touches the DOM.
import { defineConfig } from 'vitest/config';
import { runtimeConfig } from './build/runtime-config.ts';

export default defineConfig({
  base: './',
  plugins: [runtimeConfig()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
