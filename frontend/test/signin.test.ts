// Signed in: ChatClient with a TokenKeeper (src/tokens.ts) in front of a fake
// auth library, fake sockets and fake timers. The ID token is on every
// (re)connect's URL, fetched each time and renewed before it expires; a
// session that ended (a renewal refused, or fresh tokens refused by a server
// that answers) stops the client for good instead of reconnecting forever.
// Without sign-in nothing of this happens.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionEnded } from '../src/auth';
import { ChatClient, type ClientOptions, type Status } from '../src/client';
import { answersHttp, REFUSALS_TO_SIGN_IN, RENEW_BEFORE_MS, TokenKeeper, withToken, type EndReason } from '../src/tokens';
import type { ServerFrame } from '../src/protocol';
import { FakeAuth, FakeSocket, state } from './fakes';

const WS = 'ws://127.0.0.1:8080/local';

interface Harness {
  client: ChatClient;
  auth: FakeAuth;
  keeper: TokenKeeper;
  sockets: FakeSocket[];
  last(): FakeSocket;
  statuses: Status[];
  /** Every frame the client hands to the page. */
  frames: ServerFrame[];
  ended: EndReason[];
  /** What the reachability probe answers. */
  reachable: boolean;
  probes: number;
}

function harness(opts: Partial<ClientOptions> = {}): Harness {
  const h: Harness = {
    auth: new FakeAuth(),
    sockets: [],
    last: () => h.sockets[h.sockets.length - 1],
    statuses: [],
    frames: [],
    ended: [],
    reachable: true,
    probes: 0,
    client: undefined as unknown as ChatClient,
    keeper: undefined as unknown as TokenKeeper,
  };
  h.keeper = new TokenKeeper(h.auth, (why) => h.ended.push(why), {
    reachable: async () => {
      h.probes += 1;
      return h.reachable;
    },
  });
  h.client = new ChatClient(
    {
      url: WS,
      name: 'Alice',
      room: 'lobby',
      socket: (url) => {
        const s = new FakeSocket(url);
        h.sockets.push(s);
        return s;
      },
      random: () => 0.5,
      token: (last) => h.keeper.tokenFor(WS, last),
      ...opts,
    },
    { status: (s) => h.statuses.push(s), frame: (f) => h.frames.push(f) },
  );
  return h;
}

/** Lets the token's promises settle. */
const settle = () => vi.advanceTimersByTimeAsync(0);

const tokenOf = (s: FakeSocket) => new URL(s.url).searchParams.get('token');

async function ready(h: Harness): Promise<FakeSocket> {
  if (h.client.state.state === 'stopped') h.client.start();
  await settle();
  const s = h.last();
  s.open();
  s.receive(state('Alice'));
  return s;
}

/** Waits out the scheduled reconnect and lets its token arrive. */
async function nextAttempt(h: Harness): Promise<void> {
  const at = h.client.state.retryAt ?? Date.now();
  await vi.advanceTimersByTimeAsync(Math.max(0, at - Date.now()));
  await settle();
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the token on the URL', () => {
  it('is fetched before the socket opens and sent as the token parameter, beside name and room', async () => {
    const h = harness();
    h.client.start();
    expect(h.sockets).toHaveLength(0); // not before the token is there
    expect(h.client.state.state).toBe('connecting');
    await settle();
    const u = new URL(h.last().url);
    expect(u.searchParams.get('token')).toBe('jwt-1');
    expect(u.searchParams.get('name')).toBe('Alice');
    expect(u.searchParams.get('room')).toBe('lobby');
  });

  it('is fetched again for every reconnect, with the resume token the last connection had', async () => {
    const h = harness();
    h.client.start();
    await settle();
    h.last().open();
    h.last().receive(state('Alice', { resume: 'tok-1' }));
    h.last().serverClose(1001, 'going away');
    await nextAttempt(h);
    expect(h.auth.calls.filter((c) => c.startsWith('idToken'))).toEqual(['idToken', 'idToken']);
    const u = new URL(h.last().url);
    expect(u.searchParams.get('token')).toBe('jwt-1');
    expect(u.searchParams.get('resume')).toBe('tok-1');
  });

  it('replaces a token parameter the URL already had', () => {
    expect(withToken(`${WS}?token=old&room=lobby`, 'new')).toBe(`${WS}?token=new&room=lobby`);
  });
});

describe('renewal', () => {
  it('renews a token with less than five minutes left before reconnecting with it', async () => {
    const h = harness();
    await ready(h);
    h.auth.expireIn(RENEW_BEFORE_MS - 60_000);
    h.last().serverClose(1001, 'going away');
    await nextAttempt(h);
    expect(tokenOf(h.last())).toBe('jwt-2');
    expect(h.auth.calls.slice(-2)).toEqual(['idToken', 'idToken:fresh']);
  });

  it('renews in the background five minutes before expiry, leaving the open connection alone', async () => {
    const h = harness({ pingIntervalMs: 24 * 60 * 60_000 }); // the fake server answers no pings
    const s = await ready(h);
    await vi.advanceTimersByTimeAsync(55 * 60_000 - 1_000);
    expect(h.auth.calls).not.toContain('idToken:fresh');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(h.auth.calls).toContain('idToken:fresh');
    expect(h.sockets).toEqual([s]);
    expect(h.client.state.state).toBe('ready');
    // An hour later the renewed token is renewed in turn.
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(h.auth.calls.filter((c) => c === 'idToken:fresh')).toHaveLength(2);
    // A reconnect now uses the newest token.
    s.serverClose(1001, 'going away');
    await nextAttempt(h);
    expect(tokenOf(h.last())).toBe('jwt-3');
  });

  it('signs the open connection in again with each renewed token, in band (reauth)', async () => {
    const h = harness({ pingIntervalMs: 24 * 60 * 60_000 });
    const s = await ready(h);
    h.keeper.onRenewed = (jwt) => void h.client.reauthWith(jwt);
    await vi.advanceTimersByTimeAsync(55 * 60_000 + 1_000);
    expect(s.sent.at(-1)).toEqual({ action: 'reauth', token: 'jwt-2' });
    expect(h.sockets).toEqual([s]);
    expect(await h.keeper.fresh()).toBe('jwt-3'); // for a reauth_required: renewed now
  });

  it('renews a token shorter than twice the five minutes halfway through its life, not over and over', async () => {
    const h = harness({ pingIntervalMs: 24 * 60 * 60_000 });
    h.auth.lifetimeMs = 30_000; // a pool of short tokens (the local issuer in e2e/reauth.e2e.ts)
    const s = await ready(h);
    h.keeper.onRenewed = (jwt) => void h.client.reauthWith(jwt);
    const fresh = () => h.auth.calls.filter((c) => c === 'idToken:fresh').length;
    const before = fresh(); // the connect renewed the short stored token once
    await vi.advanceTimersByTimeAsync(14_000);
    expect(fresh()).toBe(before);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(fresh()).toBe(before + 1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(fresh()).toBe(before + 2);
    expect(s.sent.filter((f) => f.action === 'reauth')).toHaveLength(2);
    expect(h.sockets).toEqual([s]);
  });

  it('tries a background renewal again a minute later when the issuer cannot be reached', async () => {
    const h = harness();
    await ready(h);
    h.auth.offline = true;
    await vi.advanceTimersByTimeAsync(55 * 60_000 + 1_000);
    expect(h.ended).toEqual([]);
    h.auth.offline = false;
    const fresh = () => h.auth.calls.filter((c) => c === 'idToken:fresh').length;
    const before = fresh();
    await vi.advanceTimersByTimeAsync(60_000);
    // (Reconnect attempts may ask for the stored token in between.)
    expect(fresh()).toBe(before + 1);
    expect(h.ended).toEqual([]);
  });

  it('treats an issuer out of reach at connect time as a failed attempt, retried with the backoff', async () => {
    const h = harness();
    h.auth.offline = true;
    h.client.start();
    await settle();
    expect(h.sockets).toHaveLength(0);
    expect(h.client.state.state).toBe('waiting');
    expect(h.client.state.lastClose?.reason).toMatch(/Cannot reach the sign-in service/);
    h.auth.offline = false;
    await nextAttempt(h);
    expect(tokenOf(h.last())).toBe('jwt-1');
    expect(h.ended).toEqual([]);
  });
});

describe('a session that ended', () => {
  it('a refused renewal at reconnect stops the client and says "expired"; nothing reconnects', async () => {
    const h = harness();
    await ready(h);
    h.auth.expireIn(1_000);
    h.auth.refuseRenewal = true;
    h.last().serverClose(1001, 'going away');
    await nextAttempt(h);
    expect(h.ended).toEqual(['expired']);
    expect(h.client.state.state).toBe('stopped');
    const sockets = h.sockets.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(h.sockets).toHaveLength(sockets);
    expect(h.client.state.state).toBe('stopped');
  });

  it('a refused background renewal says "expired" once, while the connection is up', async () => {
    const h = harness();
    await ready(h);
    h.auth.refuseRenewal = true;
    await vi.advanceTimersByTimeAsync(56 * 60_000);
    expect(h.ended).toEqual(['expired']);
    await vi.advanceTimersByTimeAsync(2 * 60 * 60_000);
    expect(h.ended).toEqual(['expired']);
    await expect(h.keeper.tokenFor(WS)).rejects.toBeInstanceOf(SessionEnded);
  });

  it('no stored session at all: "expired" before any socket', async () => {
    const h = harness();
    h.auth.user = null;
    h.client.start();
    await settle();
    expect(h.ended).toEqual(['expired']);
    expect(h.sockets).toHaveLength(0);
    expect(h.client.state.state).toBe('stopped');
  });

  it(`${REFUSALS_TO_SIGN_IN} handshakes refused in a row (the last two with fresh tokens) by a server that answers: "refused", no reconnect loop`, async () => {
    const h = harness();
    h.client.start();
    await settle();
    // The stored token is refused: the next socket gets a fresh one.
    expect(tokenOf(h.last())).toBe('jwt-1');
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    expect(tokenOf(h.last())).toBe('jwt-2');
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    expect(tokenOf(h.last())).toBe('jwt-3');
    expect(h.ended).toEqual([]);
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    expect(h.probes).toBe(1);
    expect(h.ended).toEqual(['refused']);
    expect(h.client.state.state).toBe('stopped');
    const n = h.sockets.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(h.sockets).toHaveLength(n);
  });

  it('three refused handshakes in a row return to sign-in even when the issuer fails renewals in passing (a restarted stack)', async () => {
    const h = harness();
    await ready(h);
    // The stack restarts: its gateway refuses the page's token, and its
    // issuer no longer knows the page's app client.
    h.auth.renewalFailsInPassing = true;
    h.last().serverClose(1001, 'going away');
    // For 15 minutes the gateway refuses every handshake.
    const closed = new Set([h.last()]);
    for (let s = 0; s < 15 * 60 && h.client.state.state !== 'stopped'; s++) {
      const sock = h.last();
      if (!closed.has(sock)) {
        closed.add(sock);
        sock.serverClose(1006, '');
      }
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect({ refusedHandshakes: closed.size - 1, ended: h.ended }).toEqual({ refusedHandshakes: 3, ended: ['refused'] });
    expect(h.client.state.state).toBe('stopped');
  });

  it('a message queued when the session was refused is not dropped: the client after sign-in sends it, before one typed after', async () => {
    const h = harness();
    await ready(h);
    h.last().serverClose(1001, 'going away');
    h.client.send({ action: 'sendPublic', message: 'still there?' });
    const closed = new Set([h.last()]);
    for (let s = 0; s < 60 && h.ended.length === 0; s++) {
      const sock = h.last();
      if (!closed.has(sock)) {
        closed.add(sock);
        sock.serverClose(1006, '');
      }
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(h.ended).toEqual(['refused']);
    const left = h.client.pending();
    expect(left.map((i) => [i.state, i.frame.action === 'sendPublic' && i.frame.message])).toEqual([['queued', 'still there?']]);
    // Signed in again: a new client (and keeper), as the page makes one.
    const again = harness();
    for (const item of left) again.client.adopt(item);
    again.client.send({ action: 'sendPublic', message: 'typed after' });
    const s = await ready(again);
    const sent = s.sent.filter((f) => f.action === 'sendPublic').map((f) => f.message);
    expect(sent).toEqual(['still there?', 'typed after']);
  });

  it('sockets closed before open while the server does not answer at all are an outage: it keeps retrying', async () => {
    const h = harness();
    h.reachable = false;
    h.client.start();
    await settle();
    for (let i = 0; i < 5; i++) {
      h.last().serverClose(1006, '');
      await nextAttempt(h);
    }
    expect(h.ended).toEqual([]);
    expect(h.sockets).toHaveLength(6);
    expect(h.probes).toBe(3); // from the second fresh token refused on
    // Every retry after a close before open carries a fresh token.
    expect(h.sockets.slice(1).map(tokenOf)).toEqual(['jwt-2', 'jwt-3', 'jwt-4', 'jwt-5', 'jwt-6']);
    // Once the server is back, chat goes on with the token it got.
    h.last().open();
    h.last().receive(state('Alice'));
    expect(h.client.state.state).toBe('ready');
  });

  it('a socket that opened in between starts the count again', async () => {
    const h = harness();
    h.client.start();
    await settle();
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    h.last().serverClose(1006, ''); // fresh token refused once
    await nextAttempt(h);
    h.last().open();
    h.last().receive(state('Alice'));
    h.last().serverClose(1001, 'going away');
    await nextAttempt(h);
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    h.last().serverClose(1006, '');
    await nextAttempt(h);
    expect(h.ended).toEqual([]);
    expect(h.probes).toBe(0);
  });

  it('stopping while the token is on its way opens nothing', async () => {
    const h = harness();
    h.client.start();
    h.client.stop();
    await settle();
    expect(h.sockets).toHaveLength(0);
    expect(h.client.state.state).toBe('stopped');
  });

  it('stop() ends renewals and is never reported as an ended session', async () => {
    const h = harness();
    await ready(h);
    h.client.stop();
    h.keeper.stop();
    h.auth.refuseRenewal = true;
    await vi.advanceTimersByTimeAsync(3 * 60 * 60_000);
    expect(h.ended).toEqual([]);
    expect(h.auth.calls).not.toContain('idToken:fresh');
  });
});

describe('without sign-in', () => {
  it('the URL carries no token and the socket opens at once, as before', () => {
    const sockets: FakeSocket[] = [];
    const client = new ChatClient({
      url: WS,
      name: 'Alice',
      room: 'lobby',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
    });
    client.start();
    expect(sockets.map((s) => s.url.replace(/&resume=[A-Za-z0-9_-]{22}$/, ''))).toEqual([`${WS}?name=Alice&room=lobby`]);
  });
});

describe('answersHttp', () => {
  it('asks the WebSocket URL\'s host over http(s), without the query, and takes any answer as up', async () => {
    const f = vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => new Response(null, { status: 426 }));
    expect(await answersHttp('wss://abc.execute-api.eu-west-1.amazonaws.com/prod?token=x', f)).toBe(true);
    expect(f.mock.calls[0][0]).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod');
    expect(f.mock.calls[0][1]).toMatchObject({ mode: 'no-cors' });
    expect(await answersHttp('ws://127.0.0.1:8080/local', f)).toBe(true);
    expect(f.mock.calls[1][0]).toBe('http://127.0.0.1:8080/local');
  });

  it('is false when the request fails', async () => {
    const f = vi.fn(async () => Promise.reject(new TypeError('Failed to fetch')));
    expect(await answersHttp('ws://127.0.0.1:1/local', f as unknown as typeof fetch)).toBe(false);
  });
});

describe('a tab past the account\'s device cap', () => {
  // The server lets the handshake through with nothing recorded (a browser
  // cannot read a refused one's status) and answers the hello with why.
  const full = {
    type: 'error',
    code: 'too_many_devices',
    message: 'You are connected on 5 devices or tabs already, the most an account may be. Close one to connect here.',
    action: 'hello',
  };

  it('hands the page the server\'s reason, keeps trying with its backoff, and never goes back to sign-in', async () => {
    const h = harness();
    h.client.start();
    for (let round = 0; round < 4; round++) {
      await settle();
      const s = h.last();
      s.open();
      expect(s.actions()).toEqual(['hello']);
      s.receive(full);
      expect(h.client.state.state).toBe('waiting');
      await nextAttempt(h);
    }
    const shown = h.frames.filter((f) => f.type === 'error' && f.code === 'too_many_devices');
    expect(shown).toHaveLength(4);
    expect(shown[0]).toMatchObject({ message: full.message });
    expect(h.ended).toEqual([]);
    expect(h.sockets.length).toBe(5);
    // Once a tab elsewhere closed, the next try gets in.
    await ready(h);
    expect(h.client.state.state).toBe('ready');
    expect(h.ended).toEqual([]);
  });

  it('drops a connection the server forgot while the account holds the cap elsewhere, and says why', async () => {
    const h = harness();
    const s = await ready(h);
    s.receive({ ...full, action: 'sendPublic', ref: 'r1' });
    expect(h.client.state.state).toBe('waiting');
    expect(h.frames.filter((f) => f.type === 'error' && f.code === 'too_many_devices')).toHaveLength(1);
    await nextAttempt(h);
    expect(h.sockets).toHaveLength(2);
    await ready(h);
    expect(h.client.state.state).toBe('ready');
    expect(h.ended).toEqual([]);
  });
});

describe('an account past its connects per minute', () => {
  // Refused like a tab past the device cap: the handshake goes through with
  // nothing recorded, and the hello is answered rate_limited with the wait.
  const tooMany = {
    type: 'error',
    code: 'rate_limited',
    message: 'Too many connections: at most 20 in 1m0s. Connect again in 41.3 s.',
    retryAfterMs: 41_297,
    action: 'hello',
  };

  it('is shown, tried again after retryAfterMs and not sooner, and never sends the page back to sign-in', async () => {
    const h = harness();
    h.client.start();
    for (let round = 0; round < 3; round++) {
      await settle();
      const s = h.last();
      s.open();
      s.receive(tooMany);
      expect(h.client.state.state).toBe('waiting');
      expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(41_297);
      const sockets = h.sockets.length;
      await vi.advanceTimersByTimeAsync(41_296);
      expect(h.sockets.length).toBe(sockets);
      await nextAttempt(h);
    }
    const shown = h.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(shown).toHaveLength(3);
    expect(shown[0]).toMatchObject({ message: tooMany.message });
    expect(h.ended).toEqual([]);
    await ready(h);
    expect(h.client.state.state).toBe('ready');
    expect(h.ended).toEqual([]);
  });
});
