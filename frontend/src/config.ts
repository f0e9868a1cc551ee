// Where the page finds the WebSocket API at run time. The built page is the
// same everywhere; only config.json next to it differs: Amplify's build writes
// it from GROUPCHAT_WS_URL, the local stack answers it with its own ws:// URL.
// A ?ws= query parameter overrides both, for development only: a development
// build (Vite's dev server) or a page served from this machine (127.0.0.1,
// localhost, [::1] — the local stack and the browser tests). On the real site it
// is ignored, or a link with ?ws=wss://elsewhere would make the page send its
// user's chat to someone else's server.
//
// config.json also says whether people sign in (contract.PageConfig in Go):
// "auth": "cognito" with the user pool and app client ids, and for the local
// stack's issuer (cognito-local) its endpoint; absent or "none" is the open
// chat of before. A ?ws= override reads no config.json, so it never signs in.

export type ConfigSource = 'query' | 'config.json' | 'fallback';

export interface RuntimeConfig {
  wsUrl: string;
  /**
   * Where wsUrl came from: the status bar says so (sourceLabel) while the
   * first connection fails, since a wrong URL is the likeliest cause then.
   */
  source: ConfigSource;
  auth: AuthSetting;
}

/**
 * How people sign in. none: they do not (anyone with the URL may connect).
 * cognito: with the environment's user pool, through Amplify. broken:
 * config.json asks for sign-in but lacks what the page needs; the page says
 * so rather than connect without a token the server would refuse.
 */
export type AuthSetting = { mode: 'none' } | CognitoSetting | { mode: 'broken'; problem: string };

export interface CognitoSetting {
  mode: 'cognito';
  userPoolId: string;
  userPoolClientId: string;
  /**
   * The Cognito API's URL when it is not AWS's: the local stack's issuer
   * (cognito-local). Its presence also says how to sign in: with the password
   * flow (it has no SRP) and refreshing through REFRESH_TOKEN_AUTH (it does
   * not implement the call Amplify refreshes with). Absent: AWS, SRP.
   */
  userPoolEndpoint?: string;
  /** Whether the page offers to create an account (config.json "signUp": true). Default false. */
  signUp: boolean;
}

const NO_AUTH: AuthSetting = { mode: 'none' };

/** The sign-in part of config.json. */
export function authSetting(body: unknown): AuthSetting {
  const c = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const mode = c.auth ?? 'none';
  if (mode === 'none') return NO_AUTH;
  if (mode !== 'cognito') {
    return { mode: 'broken', problem: `config.json asks for sign-in with "${String(mode)}", which this page does not know.` };
  }
  const str = (k: string) => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
  const userPoolId = str('userPoolId');
  const userPoolClientId = str('userPoolClientId');
  if (!userPoolId || !userPoolClientId) {
    return { mode: 'broken', problem: 'config.json asks for sign-in but lacks userPoolId or userPoolClientId.' };
  }
  const endpoint = str('userPoolEndpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) {
    return { mode: 'broken', problem: 'config.json has a userPoolEndpoint that is not an http(s) URL.' };
  }
  return {
    mode: 'cognito',
    userPoolId,
    userPoolClientId,
    ...(endpoint ? { userPoolEndpoint: endpoint } : {}),
    signUp: c.signUp === true,
  };
}

/** How the status bar names a source: "URL from config.json". */
export function sourceLabel(source: ConfigSource): string {
  switch (source) {
    case 'query':
      return 'URL from ?ws=';
    case 'config.json':
      return 'URL from config.json';
    case 'fallback':
      return 'no config.json, URL guessed';
  }
}

export function isWebSocketUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'ws:' || u.protocol === 'wss:';
  } catch {
    return false;
  }
}

/** The guess when config.json is missing: the local stack's stage on this host. */
export function fallbackUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/local`;
}

/** Hosts that are this machine: a page served from one may take ?ws=. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopbackPage(href: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(href).hostname);
  } catch {
    return false;
  }
}

export async function loadConfig(
  loc: { href: string; protocol: string; host: string } = window.location,
  fetchFn: typeof fetch = (...a) => fetch(...a),
  dev: boolean = import.meta.env.DEV,
): Promise<RuntimeConfig> {
  const override = new URL(loc.href).searchParams.get('ws');
  if (override && isWebSocketUrl(override) && (dev || isLoopbackPage(loc.href))) {
    return { wsUrl: override, source: 'query', auth: NO_AUTH };
  }
  try {
    const res = await fetchFn(new URL('config.json', loc.href).toString(), { cache: 'no-store' });
    if (res.ok) {
      const body: unknown = await res.json();
      const ws = (body as { wsUrl?: unknown } | null)?.wsUrl;
      if (typeof ws === 'string' && isWebSocketUrl(ws)) return { wsUrl: ws, source: 'config.json', auth: authSetting(body) };
    }
  } catch {
    // No config.json (e.g. `vite` dev server): fall through to the guess.
  }
  return { wsUrl: fallbackUrl(loc), source: 'fallback', auth: NO_AUTH };
}
