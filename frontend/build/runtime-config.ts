// A Vite plugin that writes dist/config.json, the page's runtime configuration,
// from the build's environment (Amplify's build gets it from the stack):
// GROUPCHAT_WS_URL, the deployed stage's wss:// URL, and with sign-in on
// (auth cognito) the user pool the page signs in to (GROUPCHAT_AUTH_REGION,
// GROUPCHAT_USER_POOL_ID, GROUPCHAT_USER_POOL_CLIENT_ID, GROUPCHAT_AUTH_ISSUER,
// and GROUPCHAT_SIGN_UP "true" where people may create their own account:
// contract/auth.go). The field names are contract.PageConfig's. Without
// GROUPCHAT_WS_URL nothing is written: the local stack answers /config.json
// itself.
import type { Plugin } from 'vite';

export const WS_URL_ENV = 'GROUPCHAT_WS_URL';
/** "true" where the user pool lets people sign up (contract.EnvFrontendSignUp): config.json "signUp": true. */
export const SIGN_UP_ENV = 'GROUPCHAT_SIGN_UP';

/** The sign-in variables (contract.EnvFrontend*) and the config.json field each fills. */
export const AUTH_ENV = {
  GROUPCHAT_AUTH_REGION: 'region',
  GROUPCHAT_USER_POOL_ID: 'userPoolId',
  GROUPCHAT_USER_POOL_CLIENT_ID: 'userPoolClientId',
  GROUPCHAT_AUTH_ISSUER: 'issuer',
} as const;

type Env = Record<string, string | undefined>;

/** The config.json body for a ws(s):// URL and the build's sign-in variables; throws on anything else. */
export function configJson(wsUrl: string, env: Env = {}): string {
  if (!/^wss?:\/\/[^/\s]+/.test(wsUrl)) {
    throw new Error(`${WS_URL_ENV} must be a ws:// or wss:// URL, got "${wsUrl}"`);
  }
  return JSON.stringify({ wsUrl, ...authFields(env) }) + '\n';
}

/**
 * The sign-in part: auth "cognito" and the pool's settings when the pool and
 * its client are given, nothing (the open chat) when no sign-in variable is
 * set. Some but not the pool and the client is a broken setting: the build
 * fails, rather than publish a page that cannot sign in.
 */
function authFields(env: Env): Record<string, string | boolean> {
  const set = Object.entries(AUTH_ENV)
    .map(([k, field]) => [k, field, env[k]?.trim() ?? ''] as const)
    .filter(([, , v]) => v !== '');
  if (set.length === 0) return {};
  const fields: Record<string, string | boolean> = { auth: 'cognito' };
  for (const [, field, v] of set) fields[field] = v;
  if (env[SIGN_UP_ENV]?.trim() === 'true') fields.signUp = true;
  for (const need of ['GROUPCHAT_USER_POOL_ID', 'GROUPCHAT_USER_POOL_CLIENT_ID'] as const) {
    if (!fields[AUTH_ENV[need]]) {
      throw new Error(`${need} is missing while ${set.map(([k]) => k).join(', ')} ${set.length === 1 ? 'is' : 'are'} set: sign-in needs the user pool and its app client`);
    }
  }
  return fields;
}

export function runtimeConfig(env: Env = process.env): Plugin {
  return {
    name: 'groupchat-runtime-config',
    apply: 'build',
    generateBundle() {
      const wsUrl = env[WS_URL_ENV]?.trim();
      if (!wsUrl) {
        const stray = Object.keys(AUTH_ENV).filter((k) => env[k]?.trim());
        if (stray.length) throw new Error(`${stray.join(', ')} set without ${WS_URL_ENV}: no config.json would carry them`);
        return;
      }
      this.emitFile({ type: 'asset', fileName: 'config.json', source: configJson(wsUrl, env) });
    },
  };
}
