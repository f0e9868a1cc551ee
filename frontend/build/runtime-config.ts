// A Vite plugin that writes dist/config.json, the page's runtime configuration,
// from GROUPCHAT_WS_URL (Amplify's build gets the deployed stage's wss:// URL in
// it from the stack). Without the variable nothing is written: the local stack
// answers /config.json itself.
import type { Plugin } from 'vite';

export const WS_URL_ENV = 'GROUPCHAT_WS_URL';

/** The config.json body for a ws(s):// URL; throws on anything else. */
export function configJson(wsUrl: string): string {
  if (!/^wss?:\/\/[^/\s]+/.test(wsUrl)) {
    throw new Error(`${WS_URL_ENV} must be a ws:// or wss:// URL, got "${wsUrl}"`);
  }
  return JSON.stringify({ wsUrl }) + '\n';
}

export function runtimeConfig(env: Record<string, string | undefined> = process.env): Plugin {
  return {
    name: 'groupchat-runtime-config',
    apply: 'build',
    generateBundle() {
      const wsUrl = env[WS_URL_ENV]?.trim();
      if (!wsUrl) return;
      this.emitFile({ type: 'asset', fileName: 'config.json', source: configJson(wsUrl) });
    },
  };
}
