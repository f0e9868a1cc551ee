// ChatClient reconnecting: exponential backoff with jitter, and the state asked
// for again once the room index settled (see client.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { state } from './fakes';
import { harness, ready } from './clientharness';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
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
