// Where the page finds the WebSocket API at run time. The built page is the
// same everywhere; only config.json next to it differs: Amplify's build writes
// it from GROUPCHAT_WS_URL, the local stack answers it with its own ws:// URL.
// A ?ws= query parameter overrides both, for development only: a development
// build (Vite's dev server) or a page served from this machine (127.0.0.1,
// localhost, [::1] — the local stack and the browser tests). On the real site it
// is ignored, or a link with ?ws=wss://elsewhere would make the page send its
// user's chat to someone else's server.

export type ConfigSource = 'query' | 'config.json' | 'fallback';

export interface RuntimeConfig {
  wsUrl: string;
  /**
   * Where wsUrl came from: the status bar says so (sourceLabel) while the
   * first connection fails, since a wrong URL is the likeliest cause then.
   */
  source: ConfigSource;
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
    return { wsUrl: override, source: 'query' };
  }
  try {
    const res = await fetchFn(new URL('config.json', loc.href).toString(), { cache: 'no-store' });
    if (res.ok) {
      const body: unknown = await res.json();
      const ws = (body as { wsUrl?: unknown } | null)?.wsUrl;
      if (typeof ws === 'string' && isWebSocketUrl(ws)) return { wsUrl: ws, source: 'config.json' };
    }
  } catch {
    // No config.json (e.g. `vite` dev server): fall through to the guess.
  }
  return { wsUrl: fallbackUrl(loc), source: 'fallback' };
}
