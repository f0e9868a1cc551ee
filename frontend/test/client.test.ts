// ChatClient as the page uses it, against a fake socket and fake timers: the
// connection, outbox and session together (each is also tested alone in its
// own file). Hello on open, reconnect with exponential backoff and jitter, the
// keep-alive ping, and the outbox (queued while disconnected, sent after
// reconnect and hello, confirmed by ref, or visibly failed/unconfirmed — never
// dropped silently).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient, type ClientOptions, type OutboxItem, type Status } from '../src/client';
import type { ServerFrame, StateFrame, Warning } from '../src/protocol';
import { watchWake } from '../src/wake';
import { FakeSocket, state } from './fakes';

interface Harness {
  client: ChatClient;
  sockets: FakeSocket[];
  last(): FakeSocket;
  frames: ServerFrame[];
  /** The answers to the settle hello. */
  settled: StateFrame[];
  statuses: Status[];
  outbox: OutboxItem[];
  invalid: string[];
  /** Every event in order, as "frame:<type>", "settled" or "warning:<message>". */
  log: string[];
  warnings: Warning[];
}

function harness(opts: Partial<ClientOptions> = {}): Harness {
  const sockets: FakeSocket[] = [];
  const h: Harness = {
    sockets,
    last: () => sockets[sockets.length - 1],
    frames: [],
    settled: [],
    statuses: [],
    outbox: [],
    invalid: [],
    log: [],
    warnings: [],
    client: undefined as unknown as ChatClient,
  };
  h.client = new ChatClient(
    {
      url: 'ws://127.0.0.1:8080/local',
      name: 'Alice',
      room: 'lobby',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0.5,
      ...opts,
    },
    {
      frame: (f) => {
        h.frames.push(f);
        h.log.push(`frame:${f.type}`);
      },
      settled: (f) => {
        h.settled.push(f);
        h.log.push('settled');
      },
      warning: (w) => {
        h.warnings.push(w);
        h.log.push(`warning:${w.message}`);
      },
      status: (s) => h.statuses.push(s),
      outbox: (i) => h.outbox.push(i),
      invalid: (reason) => h.invalid.push(reason),
    },
  );
  return h;
}

/** Starts the client and brings it to ready as `you`. */
function ready(h: Harness, you = 'Alice'): FakeSocket {
  if (h.client.state.state === 'stopped') h.client.start();
  const s = h.last();
  s.open();
  s.receive(state(you));
  return s;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('connecting', () => {
  it('sends hello first and is ready when state arrives', () => {
    const h = harness();
    h.client.start();
    expect(h.client.state.state).toBe('connecting');
    const s = h.last();
    expect(s.url).toMatch(/^ws:\/\/127\.0\.0\.1:8080\/local\?name=Alice&room=lobby&resume=[A-Za-z0-9_-]{22}$/);
    s.open();
    expect(h.client.state.state).toBe('joining');
    expect(s.sent).toEqual([{ action: 'hello' }]);
    s.receive(state('Alice'));
    expect(h.client.state.state).toBe('ready');
    expect(h.frames.map((f) => f.type)).toEqual(['state']);
  });

  it('takes the name the server gave (a guest name after a taken one)', () => {
    const h = harness();
    h.client.start();
    h.last().open();
    h.last().receive(
      state('guest-4821', { warning: { code: 'name_taken', message: 'The name "Alice" is already taken; you are guest-4821.' } }),
    );
    expect(h.client.currentName).toBe('guest-4821');
    const f = h.frames[0];
    expect(f.type === 'state' && f.warning?.code).toBe('name_taken');
  });

  it('reports frames it cannot parse and carries on', () => {
    const h = harness();
    const s = ready(h);
    s.receive('not json');
    s.receive({ type: 'pong', ts: 1 });
    expect(h.invalid).toEqual(['not JSON']);
    expect(h.frames.map((f) => f.type)).toEqual(['state', 'pong']);
  });
});

describe('the name warning', () => {
  const guest = (message = 'The name "Alice" is already taken in this room. You are guest-4821.') =>
    state('guest-4821', { warning: { code: 'name_taken', message } });

  it('is reported once, after its state, not again with every reconnect', () => {
    const h = harness();
    h.client.start();
    h.last().open();
    h.last().receive(guest());
    expect(h.log).toEqual(['frame:state', 'warning:The name "Alice" is already taken in this room. You are guest-4821.']);
    // The server repeats it in every state until the name changes.
    for (let i = 0; i < 3; i++) {
      h.last().serverClose();
      vi.runOnlyPendingTimers();
      h.last().open();
      h.last().receive(guest());
    }
    expect(h.frames.filter((f) => f.type === 'state' && f.warning)).toHaveLength(4);
    expect(h.warnings).toHaveLength(1);
  });

  it('is reported again when its code or message differs from the last one', () => {
    const h = harness();
    h.client.start();
    const states = [
      guest('one'),
      guest('one'),
      guest('two'),
      state('guest-4821', { warning: { code: 'name_invalid', message: 'two' } }),
      state('guest-4821'),
      state('guest-4821', { warning: { code: 'name_invalid', message: 'two' } }),
    ];
    for (const st of states) {
      h.last().open();
      h.last().receive(st);
      h.last().serverClose();
      vi.runOnlyPendingTimers();
    }
    expect(h.warnings).toEqual([
      { code: 'name_taken', message: 'one' },
      { code: 'name_taken', message: 'two' },
      { code: 'name_invalid', message: 'two' },
    ]);
  });
});

describe('reconnecting', () => {
  it('reconnects after a drop, with growing delays while attempts fail', () => {
    const h = harness({ random: () => 0 });
    const first = ready(h);
    first.serverClose(1001, 'Going Away');
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 1001, reason: 'Going Away' } });
    expect(h.client.state.retryAt).toBe(Date.now() + 500);

    vi.advanceTimersByTime(499);
    expect(h.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(h.sockets).toHaveLength(2);

    // The server is unreachable: each failure waits twice as long.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.last().serverClose(1006, '');
      const st = h.client.state;
      waits.push((st.retryAt ?? 0) - Date.now());
      vi.advanceTimersByTime(waits[i]);
    }
    expect(waits).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(h.sockets).toHaveLength(7);
  });

  it('spreads the retries of many clients (jitter)', () => {
    const delays = new Set<number>();
    for (const r of [0.1, 0.4, 0.7, 0.95]) {
      const h = harness({ random: () => r });
      ready(h).serverClose();
      delays.add((h.client.state.retryAt ?? 0) - Date.now());
    }
    expect(delays.size).toBe(4);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(500);
    for (const d of delays) expect(d).toBeLessThanOrEqual(1000);
  });

  it('says hello again on the new socket, with the name it had, and resets the backoff once it held', () => {
    const h = harness();
    const s1 = ready(h);
    s1.receive({ type: 'renamed', room: 'lobby', oldName: 'Alice', name: 'Alicia', ts: 1 });
    s1.serverClose();
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    expect(s2.url).toContain('name=Alicia');
    s2.open();
    expect(s2.sent).toEqual([{ action: 'hello' }]);
    s2.receive(state('Alicia'));
    expect(h.client.state).toMatchObject({ state: 'ready', attempt: 0 });
    vi.advanceTimersByTime(30_000);
    s2.serverClose();
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(750);
  });

  it('keeps backing off when each connection is ready only briefly (state, then not_connected)', () => {
    const h = harness({ random: () => 0 });
    ready(h);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      // Ready, then at once the server says it does not know the connection.
      h.last().receive({ type: 'error', code: 'not_connected', message: 'Reconnect.' });
      expect(h.client.state.state).toBe('waiting');
      const wait = (h.client.state.retryAt ?? 0) - Date.now();
      waits.push(wait);
      vi.advanceTimersByTime(wait);
      h.last().open();
      h.last().receive(state('Alice'));
      expect(h.client.state).toMatchObject({ state: 'ready', attempt: 0 });
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 5000]);

    // A connection that held for 30 s starts the backoff over.
    vi.advanceTimersByTime(29_999);
    h.last().serverClose();
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(5000);
    vi.advanceTimersByTime(5000);
    h.last().open();
    h.last().receive(state('Alice'));
    vi.advanceTimersByTime(30_000);
    h.last().serverClose();
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(500);
  });

  it('starts over when hello is answered with an error instead of a state', () => {
    const h = harness({ random: () => 0 });
    h.client.send({ action: 'sendPublic', message: 'queued' });
    h.client.start();
    const s1 = h.last();
    s1.open();
    s1.receive({ type: 'error', code: 'internal', message: 'Try again.', action: 'hello' });
    expect(s1.closedWith).not.toBeNull();
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4003 } });
    expect(h.frames.at(-1)).toMatchObject({ type: 'error', code: 'internal', action: 'hello' });
    vi.advanceTimersByTime(500);
    expect(h.sockets).toHaveLength(2);
    // The normal backoff: a second failure waits longer.
    h.last().open();
    h.last().receive({ type: 'error', code: 'internal', message: 'Try again.', action: 'hello' });
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(1000);
    vi.advanceTimersByTime(1000);
    const s3 = h.last();
    s3.open();
    s3.receive(state('Alice'));
    expect(s3.actions()).toEqual(['hello', 'sendPublic']);
  });

  it('a hello answered rate_limited (a connect past the account\'s limit) is shown and tried again after retryAfterMs, not sooner', () => {
    const h = harness({ random: () => 0 });
    h.client.start();
    const s1 = h.last();
    s1.open();
    s1.receive({
      type: 'error',
      code: 'rate_limited',
      message: 'Too many connections: at most 20 in 1m0s. Connect again in 41.3 s.',
      retryAfterMs: 41_297,
      action: 'hello',
    });
    expect(s1.closedWith).not.toBeNull();
    // Shown as what it is, and the retry waits for the server's time, not the backoff's 500 ms.
    expect(h.frames.at(-1)).toMatchObject({ type: 'error', code: 'rate_limited', action: 'hello' });
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4003 } });
    expect(h.client.state.lastClose?.beforeOpen).toBeUndefined(); // the handshake was not refused
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(41_297);
    vi.advanceTimersByTime(41_296);
    expect(h.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(h.sockets).toHaveLength(2);
    h.last().open();
    h.last().receive(state('Alice'));
    expect(h.client.state.state).toBe('ready');
  });

  it('starts over when hello gets no state within the pong timeout', () => {
    const h = harness({ pongTimeoutMs: 10_000, random: () => 0 });
    h.client.start();
    const s1 = h.last();
    s1.open();
    vi.advanceTimersByTime(9_999);
    expect(h.client.state.state).toBe('joining');
    vi.advanceTimersByTime(1);
    expect(s1.closedWith).not.toBeNull();
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4002 } });
    vi.advanceTimersByTime(500);
    const s2 = h.last();
    s2.open();
    s2.receive(state('Alice'));
    // Answered in time: the hello timer is gone, nothing else drops it.
    vi.advanceTimersByTime(60_000);
    expect(h.client.state.state).toBe('ready');
    expect(h.sockets).toHaveLength(2);
  });

  it('gives up on a socket that does not open within the answer timeout, and retries with the backoff', () => {
    const h = harness({ random: () => 0 });
    h.client.start();
    const s1 = h.last();
    vi.advanceTimersByTime(19_999);
    expect(h.client.state.state).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(s1.closedWith).not.toBeNull();
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4004, reason: 'no answer to connect' } });
    vi.advanceTimersByTime(500);
    expect(h.sockets).toHaveLength(2);
    // The second attempt hangs too: it waits its 20 s, then the backoff grows.
    vi.advanceTimersByTime(20_000);
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 2, lastClose: { code: 4004 } });
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(1000);
    vi.advanceTimersByTime(1000);
    // The third opens late but in time: hello gets a fresh 20 s of its own.
    const s3 = h.last();
    vi.advanceTimersByTime(19_000);
    s3.open();
    vi.advanceTimersByTime(19_999);
    expect(h.client.state.state).toBe('joining');
    s3.receive(state('Alice'));
    vi.advanceTimersByTime(60_000);
    expect(h.client.state.state).toBe('ready');
    expect(h.sockets).toHaveLength(3);
  });

  it('ignores errors of other actions while joining', () => {
    const h = harness();
    h.client.start();
    const s = h.last();
    s.open();
    s.receive({ type: 'error', code: 'bad_json', message: 'Not JSON.' });
    expect(h.client.state.state).toBe('joining');
    s.receive(state('Alice'));
    expect(h.client.state.state).toBe('ready');
  });

  it('follows only its own renames, not other people\'s', () => {
    const h = harness();
    const s = ready(h);
    s.receive({ type: 'renamed', room: 'lobby', oldName: 'Bob', name: 'Robert', ts: 1 });
    expect(h.client.currentName).toBe('Alice');
  });

  it('reconnects when the server no longer knows the connection', () => {
    const h = harness();
    const s = ready(h);
    s.receive({ type: 'error', code: 'not_connected', message: 'Reconnect.' });
    expect(s.closedWith).not.toBeNull();
    expect(h.client.state.state).toBe('waiting');
    vi.runOnlyPendingTimers();
    expect(h.sockets).toHaveLength(2);
  });

  it('retries at once on reconnectNow', () => {
    const h = harness();
    ready(h).serverClose();
    h.client.reconnectNow();
    expect(h.sockets).toHaveLength(2);
    expect(h.client.state.state).toBe('connecting');
  });

  it('stays down after stop()', () => {
    const h = harness();
    const s = ready(h);
    h.client.stop();
    expect(s.closedWith?.code).toBe(1000);
    vi.advanceTimersByTime(10 * 60_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.client.state.state).toBe('stopped');
  });
});

describe('asking for the state again once the room index settled', () => {
  // The server reads the members from an eventually consistent index: the
  // first state may miss someone who joined just before.
  it('a page asks for the state again 2 s after it connects', () => {
    const h = harness();
    const s = ready(h);
    s.answersHello = false;
    const statuses = h.statuses.length;
    vi.advanceTimersByTime(1_999);
    expect(s.actions()).toEqual(['hello']);
    vi.advanceTimersByTime(1);
    expect(s.sent).toEqual([{ action: 'hello' }, { action: 'hello' }]);
    s.receive(state('Alice', { members: ['Alice', 'Bob'] }));
    expect(h.log).toEqual(['frame:state', 'settled']);
    expect(h.settled).toEqual([expect.objectContaining({ members: ['Alice', 'Bob'] })]);
    // Ready already: no second "ready" (the page would say "Reconnected.").
    expect(h.statuses).toHaveLength(statuses);
    expect(h.client.state.state).toBe('ready');
  });

  it('not again after that', () => {
    const h = harness();
    const s = ready(h);
    vi.advanceTimersByTime(3 * 60_000);
    expect(s.actions()).toEqual(['hello', 'hello']);
    expect(h.log).toEqual(['frame:state', 'settled']);
  });

  it('not after the connection dropped, and once again after the reconnect', () => {
    const h = harness({ random: () => 0 });
    const s1 = ready(h);
    vi.advanceTimersByTime(1_999);
    s1.serverClose();
    vi.advanceTimersByTime(500);
    const s2 = h.last();
    s2.open();
    vi.advanceTimersByTime(5_000); // no state yet: nothing to settle
    expect(s1.actions()).toEqual(['hello']);
    expect(s2.actions()).toEqual(['hello']);
    s2.receive(state('Alice'));
    vi.advanceTimersByTime(2_001);
    expect(s2.actions()).toEqual(['hello', 'hello']);
    expect(h.settled).toHaveLength(1);
  });

  it('keeps the name, token and warning of the first state and the frames since', () => {
    // The second state may have been read before a rename that already arrived.
    const h = harness();
    const s = ready(h);
    s.answersHello = false;
    s.receive({ type: 'renamed', room: 'lobby', oldName: 'Alice', name: 'Alicia', ts: 1 });
    vi.advanceTimersByTime(2_000);
    s.receive(state('Alice', { resume: 'other', warning: { code: 'name_taken', message: 'taken' } }));
    expect(h.client.currentName).toBe('Alicia');
    expect(h.warnings).toEqual([]);
    s.serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toBe('ws://127.0.0.1:8080/local?name=Alicia&room=lobby');
  });

  it('keeps the connection when that hello is answered with an error, unless the server forgot it', () => {
    const h = harness();
    const s = ready(h);
    s.answersHello = false;
    vi.advanceTimersByTime(2_000);
    s.receive({ type: 'error', code: 'internal', message: 'Try again.', action: 'hello' });
    expect(h.frames.map((f) => f.type)).toEqual(['state']);
    expect(h.client.state.state).toBe('ready');
    expect(s.closedWith).toBeNull();

    const h2 = harness();
    const s2 = ready(h2);
    s2.answersHello = false;
    vi.advanceTimersByTime(2_000);
    s2.receive({ type: 'error', code: 'not_connected', message: 'Reconnect.', action: 'hello' });
    expect(h2.client.state.state).toBe('waiting');
  });
});

describe('keep-alive', () => {
  it('pings every interval while connected', () => {
    const h = harness({ pingIntervalMs: 60_000 });
    const s = ready(h);
    vi.advanceTimersByTime(59_999);
    expect(s.actions()).toEqual(['hello', 'hello']); // the second: the settle hello
    vi.advanceTimersByTime(1);
    expect(s.actions()).toEqual(['hello', 'hello', 'ping']);
    for (let i = 0; i < 2; i++) {
      s.receive({ type: 'pong', ts: 1 });
      vi.advanceTimersByTime(60_000);
    }
    expect(s.actions()).toEqual(['hello', 'hello', 'ping', 'ping', 'ping']);
    expect(h.client.state.state).toBe('ready');
  });

  it('pings every four minutes by default, inside the 10-minute idle timeout', () => {
    const h = harness();
    const s = ready(h);
    vi.advanceTimersByTime(4 * 60_000);
    expect(s.actions()).toEqual(['hello', 'hello', 'ping']);
  });

  it('treats an unanswered ping as a dead connection and reconnects', () => {
    const h = harness({ pingIntervalMs: 60_000, pongTimeoutMs: 10_000 });
    const s = ready(h);
    vi.advanceTimersByTime(60_000 + 9_999);
    expect(h.client.state.state).toBe('ready');
    vi.advanceTimersByTime(1);
    expect(h.client.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001 } });
    expect(s.closedWith).not.toBeNull();
  });

  it('treats a sent frame that gets no answer within 20 s as a dead connection', () => {
    // A half-open connection: the socket looks open, nothing comes back. The
    // send must not wait for the 4-minute ping to find out.
    const h = harness({ random: () => 0 });
    const s = ready(h);
    vi.advanceTimersByTime(60_000);
    const item = h.client.send({ action: 'sendPublic', message: 'anyone?' });
    vi.advanceTimersByTime(19_999);
    expect(h.client.state.state).toBe('ready');
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: item.ref, state: 'sent' })]);
    vi.advanceTimersByTime(1);
    expect(s.closedWith).not.toBeNull();
    expect(h.client.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4001, reason: 'no answer to sendPublic' } });
    // What the outbox always does for a drop after sending.
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: item.ref, state: 'unconfirmed' })]);
    vi.advanceTimersByTime(500);
    expect(h.sockets).toHaveLength(2);
    h.last().open();
    h.last().receive(state('Alice'));
    expect(h.last().actions()).toEqual(['hello']);
  });

  it('stops the answer timer on any frame, and counts it from the oldest unanswered frame', () => {
    const h = harness();
    const s = ready(h);
    h.client.send({ action: 'sendPublic', message: 'one' });
    vi.advanceTimersByTime(15_000);
    // Someone else's message: the connection is alive, even before the echo.
    s.receive({ type: 'joined', room: 'lobby', name: 'Bob', ts: 1 });
    vi.advanceTimersByTime(60_000);
    expect(h.client.state.state).toBe('ready');

    // A second send does not push the first one's deadline back.
    h.client.send({ action: 'sendPublic', message: 'two' });
    vi.advanceTimersByTime(10_000);
    h.client.send({ action: 'sendPublic', message: 'three' });
    vi.advanceTimersByTime(10_000);
    expect(h.client.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001 } });
  });

  it('pings at once on pingNow when ready, and not otherwise', () => {
    const h = harness({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    const s = ready(h);
    s.answersHello = false; // half-open: nothing comes back
    h.client.pingNow();
    expect(s.actions()).toEqual(['hello', 'ping']);
    vi.advanceTimersByTime(20_000);
    expect(h.client.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001, reason: 'no answer to ping' } });
    h.client.pingNow();
    expect(s.actions()).toEqual(['hello', 'ping', 'hello']);
    expect(h.sockets).toHaveLength(1);
  });

  it('does not ping while disconnected', () => {
    const h = harness({ pingIntervalMs: 1_000, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    const s = ready(h);
    s.serverClose();
    vi.advanceTimersByTime(20_000);
    expect(s.actions()).toEqual(['hello']);
  });
});

describe('waking up (online, page visible again)', () => {
  function page() {
    const win = new EventTarget();
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const show = (v: 'visible' | 'hidden') => {
      doc.visibilityState = v;
      doc.dispatchEvent(new Event('visibilitychange'));
    };
    return { win, doc, show };
  }

  it('pings a ready connection at once when the network is back or the page is shown', () => {
    const h = harness();
    const s = ready(h);
    s.answersHello = false; // half-open: nothing comes back
    const p = page();
    const stop = watchWake(p.win, p.doc, () => h.client);
    p.win.dispatchEvent(new Event('online'));
    expect(s.actions()).toEqual(['hello', 'ping']);
    s.receive({ type: 'pong', ts: 1 });
    p.show('hidden');
    expect(s.actions()).toEqual(['hello', 'ping']);
    p.show('visible');
    expect(s.actions()).toEqual(['hello', 'ping', 'ping']);
    // The wake-up ping is held to the same answer timeout.
    vi.advanceTimersByTime(20_000);
    expect(h.client.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001 } });
    stop();
  });

  it('retries a scheduled reconnect at once when the network is back', () => {
    const h = harness({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    ready(h).serverClose();
    const p = page();
    const stop = watchWake(p.win, p.doc, () => h.client);
    p.win.dispatchEvent(new Event('online'));
    expect(h.sockets).toHaveLength(2);
    expect(h.client.state.state).toBe('connecting');
    stop();
  });

  it('retries a scheduled reconnect at once when the page is shown again', () => {
    const h = harness({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    ready(h).serverClose();
    const p = page();
    const stop = watchWake(p.win, p.doc, () => h.client);
    p.show('hidden');
    expect(h.sockets).toHaveLength(1);
    p.show('visible');
    expect(h.sockets).toHaveLength(2);
    expect(h.client.state.state).toBe('connecting');
    stop();
  });

  it('stops listening when told to', () => {
    const h = harness();
    const s = ready(h);
    const p = page();
    watchWake(p.win, p.doc, () => h.client)();
    p.win.dispatchEvent(new Event('online'));
    p.show('visible');
    expect(s.actions()).toEqual(['hello']);
  });
});

describe('the outbox', () => {
  it('sends at once when ready and forgets the item on its echo', () => {
    const h = harness();
    const s = ready(h);
    const item = h.client.send({ action: 'sendPublic', message: 'hi' });
    expect(s.sent[1]).toEqual({ action: 'sendPublic', message: 'hi', ref: item.ref });
    expect(h.client.pending().map((i) => i.state)).toEqual(['sent']);
    s.receive({ type: 'public', id: '01A', ts: 1, room: 'lobby', from: 'Alice', message: 'hi', ref: item.ref });
    expect(h.client.pending()).toEqual([]);
    expect(h.outbox.at(-1)).toMatchObject({ ref: item.ref, state: 'done' });
  });

  it('gives every frame its own ref, at most 64 characters', () => {
    const h = harness();
    ready(h);
    const a = h.client.send({ action: 'sendPublic', message: 'a' });
    const b = h.client.send({ action: 'sendPublic', message: 'b' });
    expect(a.ref).not.toBe(b.ref);
    expect(a.ref.length).toBeLessThanOrEqual(64);
  });

  it('marks an item failed with the server\'s error', () => {
    const h = harness();
    const s = ready(h);
    const item = h.client.send({ action: 'sendPrivate', to: ['Zed'], message: 'psst' });
    s.receive({ type: 'error', code: 'recipients_unknown', message: 'Nobody called Zed is in this room.', action: 'sendPrivate', unknown: ['Zed'], ref: item.ref });
    const [p] = h.client.pending();
    expect(p).toMatchObject({ state: 'failed', error: { code: 'recipients_unknown', unknown: ['Zed'] } });
    h.client.discard(item.ref);
    expect(h.client.pending()).toEqual([]);
  });

  it('queues while reconnecting and sends after the new hello is answered, in order', () => {
    const h = harness();
    ready(h).serverClose();
    const a = h.client.send({ action: 'sendPublic', message: 'one' });
    const b = h.client.send({ action: 'sendPrivate', to: ['Bob'], message: 'two' });
    expect(h.client.pending().map((i) => i.state)).toEqual(['queued', 'queued']);

    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    // Nothing but hello until the state arrives: the server must know us first.
    expect(s2.actions()).toEqual(['hello']);
    s2.receive(state('Alice'));
    expect(s2.sent.slice(1)).toEqual([
      { action: 'sendPublic', message: 'one', ref: a.ref },
      { action: 'sendPrivate', to: ['Bob'], message: 'two', ref: b.ref },
    ]);
    expect(h.client.pending().map((i) => i.state)).toEqual(['sent', 'sent']);
  });

  it('queues what is sent before the first connection is ready', () => {
    const h = harness();
    h.client.start();
    h.client.send({ action: 'sendPublic', message: 'early' });
    h.last().open();
    h.last().receive(state('Alice'));
    expect(h.last().actions()).toEqual(['hello', 'sendPublic']);
  });

  it('marks in-flight items unconfirmed when the socket drops, never drops them', () => {
    const h = harness();
    const s = ready(h);
    const item = h.client.send({ action: 'sendPrivate', to: ['Bob'], message: 'psst' });
    s.serverClose();
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: item.ref, state: 'unconfirmed' })]);
    expect(h.outbox.at(-1)).toMatchObject({ ref: item.ref, state: 'unconfirmed' });

    // It is not resent by itself (that could duplicate it); retry queues it.
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    s2.receive(state('Alice'));
    expect(s2.actions()).toEqual(['hello']);
    h.client.retry(item.ref);
    expect(s2.actions()).toEqual(['hello', 'sendPrivate']);
  });

  it('confirms an unconfirmed public message found in the history after reconnect', () => {
    const h = harness();
    const s = ready(h);
    const item = h.client.send({ action: 'sendPublic', message: 'did it arrive?' });
    s.serverClose();
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    const stored = { type: 'public', id: '01B', ts: Date.now(), room: 'lobby', from: 'Alice', message: 'did it arrive?' };
    s2.receive(state('Alice', { history: [stored] }));
    expect(h.client.pending()).toEqual([]);
    expect(h.outbox.at(-1)).toMatchObject({ ref: item.ref, state: 'done', echo: stored });
    expect(s2.actions()).toEqual(['hello']);
  });

  it('does not take an earlier, already confirmed message in the history for an unconfirmed one', () => {
    const h = harness();
    const s = ready(h);
    const first = h.client.send({ action: 'sendPublic', message: 'ok' });
    const echoed = { type: 'public', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N6', ts: Date.now(), room: 'lobby', from: 'Alice', message: 'ok' };
    s.receive({ ...echoed, ref: first.ref });
    expect(h.client.pending()).toEqual([]);

    vi.advanceTimersByTime(60_000);
    const second = h.client.send({ action: 'sendPublic', message: 'ok' });
    s.serverClose(); // before the server got it
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    s2.receive(state('Alice', { history: [echoed] }));
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: second.ref, state: 'unconfirmed' })]);
  });

  it('does not take an older message sent while the echo was still due for a newer one', () => {
    // "ok" twice in a row: the first echo arrives after the second went out,
    // so its id is newer than anything seen then — but it confirmed the first.
    const h = harness();
    const s = ready(h);
    const a = h.client.send({ action: 'sendPublic', message: 'ok' });
    const b = h.client.send({ action: 'sendPublic', message: 'ok' });
    const echoA = { type: 'public', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N6', ts: Date.now(), room: 'lobby', from: 'Alice', message: 'ok' };
    s.receive({ ...echoA, ref: a.ref });
    s.serverClose();
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    s2.receive(state('Alice', { history: [echoA] }));
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: b.ref, state: 'unconfirmed' })]);

    // If the server did store it, the newer entry confirms it.
    const echoB = { ...echoA, id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N7' };
    s2.serverClose();
    vi.runOnlyPendingTimers();
    h.last().open();
    h.last().receive(state('Alice', { history: [echoA, echoB] }));
    expect(h.client.pending()).toEqual([]);
    expect(h.outbox.at(-1)).toMatchObject({ ref: b.ref, state: 'done', echo: echoB });
  });

  it('keeps queued items across stop() and sends them after start()', () => {
    const h = harness();
    const s = ready(h);
    h.client.stop();
    h.client.send({ action: 'sendPublic', message: 'later' });
    expect(s.actions()).toEqual(['hello']);
    h.client.start();
    h.last().open();
    h.last().receive(state('Alice'));
    expect(h.last().actions()).toEqual(['hello', 'sendPublic']);
  });

  it('queues a rename made while reconnecting like any other frame', () => {
    const h = harness();
    ready(h).serverClose();
    const item = h.client.send({ action: 'setName', name: 'Al' });
    vi.runOnlyPendingTimers();
    const s2 = h.last();
    s2.open();
    s2.receive(state('Alice'));
    expect(s2.sent.at(-1)).toEqual({ action: 'setName', name: 'Al', ref: item.ref });
    s2.receive({ type: 'renamed', room: 'lobby', oldName: 'Alice', name: 'Al', ts: 2, ref: item.ref });
    expect(h.client.currentName).toBe('Al');
    expect(h.client.pending()).toEqual([]);
  });
});

describe('options', () => {
  it('keeps the defaults for options given as undefined', () => {
    const h = harness({ pingIntervalMs: undefined, backoff: { initialMs: undefined } });
    const s = ready(h);
    vi.advanceTimersByTime(4 * 60_000);
    expect(s.actions()).toEqual(['hello', 'hello', 'ping']);
    s.receive({ type: 'pong', ts: 1 });
    s.serverClose();
    expect((h.client.state.retryAt ?? 0) - Date.now()).toBe(750);
  });
});

describe('taking the name back after a reconnect', () => {
  const taken = (you: string) => ({
    warning: { code: 'name_taken', message: `The name "Alice" is already taken in this room; you are ${you}.` },
  });

  /** Alice drops; her old connection still holds the name when she is back. */
  function reconnectedAsGuest(h: Harness): FakeSocket {
    ready(h).serverClose();
    vi.runOnlyPendingTimers();
    const s = h.last();
    s.open();
    s.receive(state('guest-1234', { members: ['Alice', 'guest-1234'], ...taken('guest-1234') }));
    return s;
  }

  it('asks for the name again a little later, hiding the refusals', () => {
    const h = harness();
    const s = reconnectedAsGuest(h);
    expect(h.client.currentName).toBe('guest-1234');
    expect(s.actions()).toEqual(['hello']);
    vi.advanceTimersByTime(2_000);
    const ask = s.sent.at(-1);
    expect(ask).toMatchObject({ action: 'setName', name: 'Alice' });
    const before = h.frames.length;
    s.receive({ type: 'error', code: 'name_taken', message: 'taken', action: 'setName', ref: ask?.ref });
    expect(h.frames).toHaveLength(before);

    vi.advanceTimersByTime(3_000);
    expect(s.sent.at(-1)).toMatchObject({ action: 'setName', name: 'Alice' });
    s.receive({ type: 'renamed', room: 'lobby', oldName: 'guest-1234', name: 'Alice', ts: 3, ref: ask?.ref });
    expect(h.client.currentName).toBe('Alice');
    const sent = s.sent.length;
    vi.advanceTimersByTime(120_000 - 5_000);
    expect(s.sent.slice(sent).filter((f) => f.action === 'setName')).toEqual([]);
  });

  it('asks at once when the stale connection holding it is removed', () => {
    const h = harness();
    const s = reconnectedAsGuest(h);
    s.receive({ type: 'members', room: 'lobby', members: ['guest-1234'], gone: ['Alice'], ts: 2 });
    expect(s.sent.at(-1)).toMatchObject({ action: 'setName', name: 'Alice' });
  });

  it('reconnects with the wanted name, not the guest name', () => {
    const h = harness();
    reconnectedAsGuest(h).serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toContain('name=Alice');
  });

  it('stops asking once the user picks a name', () => {
    const h = harness();
    const s = reconnectedAsGuest(h);
    h.client.send({ action: 'setName', name: 'Al' });
    vi.advanceTimersByTime(120_000);
    expect(s.sent.filter((f) => f.action === 'setName').map((f) => f.name)).toEqual(['Al']);
  });

  it('does not fight for a name that was taken on the first connect', () => {
    const h = harness();
    h.client.start();
    const s = h.last();
    s.open();
    s.receive(state('guest-1234', taken('guest-1234')));
    vi.advanceTimersByTime(120_000);
    expect(s.sent.filter((f) => f.action === 'setName')).toEqual([]);
  });
});

describe('the resume token', () => {
  it('on the first connect is one the page made, then the one of the last state', () => {
    const h = harness();
    h.client.start();
    expect(new URL(h.last().url).searchParams.get('resume')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    h.last().open();
    h.last().receive(state('Alice', { resume: 'tok-1' }));
    h.last().serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toBe('ws://127.0.0.1:8080/local?name=Alice&room=lobby&resume=tok-1');
    h.last().open();
    h.last().receive(state('Alice', { resume: 'tok-2' }));
    h.last().serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toContain('resume=tok-2');
  });

  it('stays the one that holds the wanted name while the client is a guest', () => {
    const h = harness();
    h.client.start();
    h.last().open();
    h.last().receive(state('Alice', { resume: 'tok-1' }));
    h.last().serverClose();
    vi.runOnlyPendingTimers();
    h.last().open();
    h.last().receive(
      state('guest-1234', { resume: 'tok-2', warning: { code: 'name_taken', message: 'taken' } }),
    );
    h.last().serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toContain('name=Alice');
    expect(h.last().url).toContain('resume=tok-1');
  });

  it('follows the name to the connection that took it by setName', () => {
    const h = harness();
    h.client.start();
    h.last().open();
    h.last().receive(state('Alice', { resume: 'tok-1' }));
    h.last().serverClose();
    vi.runOnlyPendingTimers();
    const s = h.last();
    s.open();
    s.receive(state('guest-1234', { resume: 'tok-2', warning: { code: 'name_taken', message: 'taken' } }));
    s.receive({ type: 'renamed', room: 'lobby', oldName: 'guest-1234', name: 'Alice', ts: 5 });
    s.serverClose();
    vi.runOnlyPendingTimers();
    expect(h.last().url).toContain('resume=tok-2');
  });
});
