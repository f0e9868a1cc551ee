// The signed-in page's ID token: which one goes on each (re)connect's URL,
// renewing it before it expires, and deciding when the session is over.
//
// ID tokens live 15 minutes (contract.IDTokenValidity); a chat tab lives all day, and API Gateway checks the
// token only at the handshake. So before every socket the keeper asks the
// auth library for the token (which renews it when expired), renews it itself
// when it has less than RENEW_BEFORE_MS left, and in the background renews it
// that long before it expires, so that a reconnect at any moment has a valid
// one and a session that ended (the refresh token expired or was revoked) is
// noticed while the chat is idle.
//
// The session is over — the person goes back to the sign-in form instead of
// reconnecting forever — when:
//   - the library says there is no session, or a renewal was refused
//     (SessionEnded): 'expired';
//   - the server refused REFUSALS_TO_SIGN_IN handshakes in a row while
//     answering HTTP: 'refused'. A browser sees neither the handshake's
//     401/403 nor its 500; it sees a socket closed before it opened. A first
//     such close may be a stale token: the next socket gets a freshly renewed
//     one. If sockets are still closed before they open, three times in a
//     row, and a plain HTTP request to the WebSocket URL's host is answered
//     (so the server is up and the network fine), the server is refusing the
//     session. When nothing answers, it is an outage: the connection keeps
//     retrying with its backoff. Only a socket that opened starts the count
//     again: an attempt that got no token (the issuer failed in passing) is
//     no handshake, and when a renewal fails in passing the stored token is
//     tried, so that a restarted stack whose issuer no longer knows the page
//     (it answered 125 refused handshakes in 15 minutes before) is noticed.

import { SessionEnded, type Auth, type IdToken } from './auth';
import type { CloseReason } from './connection';
import { Alarm } from './heartbeat';

/** The WebSocket URL's query parameter that carries the ID token (contract.AuthQueryParam). */
export const TOKEN_PARAM = 'token';

/** A token with less than this left is renewed before connecting, and renewed in the background this long before it expires. */
export const RENEW_BEFORE_MS = 5 * 60_000;

/** Sockets closed before opening this many times in a row (server reachable): the session is refused. */
export const REFUSALS_TO_SIGN_IN = 3;

/** Why the session ended: no session or a renewal refused ('expired'), or the server refused fresh tokens ('refused'). */
export type EndReason = 'expired' | 'refused';

export interface TokenKeeperOptions {
  /** Whether anything answers HTTP at the WebSocket URL's host. Default: answersHttp. */
  reachable?: (wsUrl: string) => Promise<boolean>;
  renewBeforeMs?: number;
  /** A background renewal that failed for want of the network is tried again after this. Default 60 s. */
  retryRenewalMs?: number;
}

/** The URL with the token in its query. */
export function withToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set(TOKEN_PARAM, token);
  return u.toString();
}

/**
 * Whether the host of a ws(s):// URL answers an HTTP request at all (any
 * status; the answer itself is opaque to the page): the server is up and the
 * network fine. False on a network error or no answer within timeoutMs.
 */
export async function answersHttp(wsUrl: string, fetchFn: typeof fetch = (...a) => fetch(...a), timeoutMs = 5_000): Promise<boolean> {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.search = '';
  try {
    await fetchFn(u.toString(), { mode: 'no-cors', cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
}

export class TokenKeeper {
  private readonly reachable: (wsUrl: string) => Promise<boolean>;
  private readonly renewBeforeMs: number;
  private readonly retryRenewalMs: number;
  private readonly renewal = new Alarm();
  /** Sockets closed before opening, in a row (attempts without a socket between them do not count). */
  private refusals = 0;
  /** The last tokenFor failed: the close it is told of next is no handshake's. */
  private noToken = false;
  /** A socket closed before opening since the last that opened: renew before the next. */
  private renew = false;
  private over = false;
  /** Told each token a background renewal got: the connection signs in again with it (reauth). */
  onRenewed: ((jwt: string) => void) | null = null;

  /** ended is called once, when the session is over (not after stop()). */
  constructor(
    private readonly auth: Pick<Auth, 'idToken'>,
    private readonly ended: (why: EndReason) => void,
    options: TokenKeeperOptions = {},
  ) {
    this.reachable = options.reachable ?? ((u) => answersHttp(u));
    this.renewBeforeMs = options.renewBeforeMs ?? RENEW_BEFORE_MS;
    this.retryRenewalMs = options.retryRenewalMs ?? 60_000;
  }

  /**
   * The token for the next socket to wsUrl; last is why the previous socket
   * closed. Rejects with SessionEnded (after calling ended) when the session
   * is over; any other rejection is passing (the issuer could not be reached).
   */
  async tokenFor(wsUrl: string, last?: CloseReason): Promise<string> {
    if (this.over) throw new SessionEnded();
    if (last?.beforeOpen === true) {
      this.refusals++;
      this.renew = true;
      if (this.refusals >= REFUSALS_TO_SIGN_IN && (await this.reachable(wsUrl))) this.end('refused');
    } else if (!this.noToken) {
      this.refusals = 0;
      this.renew = false;
    }
    this.noToken = true;
    // After a close before open, the token may be what was refused: a new one.
    let t: IdToken;
    try {
      t = await this.get(this.renew);
    } catch (err) {
      // The issuer failed in passing: try the stored token rather than no socket at all.
      if (!this.renew || err instanceof SessionEnded) throw err;
      t = await this.get(false);
    }
    if (!this.renew && t.expiresAt - Date.now() < this.renewBeforeMs) t = await this.get(true);
    this.noToken = false;
    this.scheduleRenewal(t);
    return t.jwt;
  }

  /**
   * A token renewed from the issuer now, for a connection whose sign-in
   * ended (reauth_required). Rejects like tokenFor.
   */
  async fresh(): Promise<string> {
    if (this.over) throw new SessionEnded();
    const t = await this.get(true);
    this.scheduleRenewal(t);
    return t.jwt;
  }

  /** Stops renewing; ended is not called any more. */
  stop(): void {
    this.over = true;
    this.renewal.stop();
  }

  private async get(fresh: boolean): Promise<IdToken> {
    try {
      const t = await this.auth.idToken({ fresh });
      if (this.over) throw new SessionEnded();
      return t;
    } catch (err) {
      if (err instanceof SessionEnded) this.end('expired');
      throw err;
    }
  }

  private scheduleRenewal(t: IdToken): void {
    if (this.over) return;
    // renewBeforeMs ahead, or halfway through a token that has less than
    // twice that left (a pool of short tokens): never a renewal loop.
    const left = t.expiresAt - Date.now();
    const wait = Math.max(0, left - this.renewBeforeMs, left / 2);
    this.renewal.start(wait, () => void this.renewNow());
  }

  private async renewNow(): Promise<void> {
    try {
      const t = await this.get(true);
      this.scheduleRenewal(t);
      this.onRenewed?.(t.jwt);
    } catch (err) {
      if (this.over || err instanceof SessionEnded) return;
      this.renewal.start(this.retryRenewalMs, () => void this.renewNow());
    }
  }

  /** Marks the session over, tells once, and throws SessionEnded. */
  private end(why: EndReason): never {
    if (!this.over) {
      this.over = true;
      this.renewal.stop();
      this.ended(why);
    }
    throw new SessionEnded(why);
  }
}
