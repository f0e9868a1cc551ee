// Vite builds the page into dist/. When GROUPCHAT_WS_URL is set (Amplify's
// build gets it from the stack), the build also writes dist/config.json, the
// runtime configuration the page fetches to find the WebSocket API.
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

function runtimeConfig(): Plugin {
  return {
    name: 'groupchat-runtime-config',
    apply: 'build',
    generateBundle() {
      const wsUrl = process.env.GROUPCHAT_WS_URL;
      if (!wsUrl) return;
      if (!/^wss?:\/\//.test(wsUrl)) {
        this.error(`GROUPCHAT_WS_URL must be a ws:// or wss:// URL, got "${wsUrl}"`);
      }
      this.emitFile({ type: 'asset', fileName: 'config.json', source: JSON.stringify({ wsUrl }) + '\n' });
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [runtimeConfig()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
