// The connection alone, against a fake socket and fake timers: what it does
// with no protocol on top — hello on open, ready when told the state arrived,
// the timeouts that give up on a socket, and reconnecting with the backoff.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, SETTLE_HELLO_MS, type CloseReason, type ConnectionOptions, type Status } from '../src/connection';
import { FakeSocket } from './fakes';

interface Harness {
  conn: Connection;
  sockets: FakeSocket[];
  last(): FakeSocket;
  statuses: Status[];
  messages: string[];
  /** Every hook call in order: "status:<state>", "lost", "url". */
  log: string[];
}

function harness(opts: ConnectionOptions = {}): Harness {
  const sockets: FakeSocket[] = [];
  let n = 0;
  const h: Harness = {
    sockets,
    last: () => sockets[sockets.length - 1],
    statuses: [],
    messages: [],
    log: [],
    conn: undefined as unknown as Connection,
  };
  h.conn = new Connection(
    {
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0,
      ...opts,
    },
    {
      url: () => {
        h.log.push('url');
        n += 1;
        return `ws://chat.test/local?attempt=${n}`;
      },
      message: (text) => h.messages.push(text),
      lost: () => h.log.push('lost'),
      status: (s) => {
        h.statuses.push(s);
        h.log.push(`status:${s.state}`);
      },
    },
  );
  return h;
}

/** Starts the connection and brings it to ready, as the state arriving would. */
function ready(h: Harness): FakeSocket {
  h.conn.start();
  const s = h.last();
  s.open();
  h.conn.joined();
  return s;
}

/** The settle hello goes out and its state arrives, as the owner would report it. */
function settle(h: Harness): void {
  vi.advanceTimersByTime(SETTLE_HELLO_MS);
  h.conn.answered();
  h.conn.joined();
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a connection', () => {
  it('says hello once open, and nothing else until it is told the state arrived', () => {
    const h = harness();
    h.conn.start();
    expect(h.conn.state.state).toBe('connecting');
    const s = h.last();
    expect(s.url).toBe('ws://chat.test/local?attempt=1');
    s.open();
    expect(h.conn.state.state).toBe('joining');
    expect(h.conn.ready).toBe(false);
    expect(h.conn.send({ action: 'sendPublic', message: 'early' })).toBe(true); // the owner decides; the socket is open
    expect(s.actions()).toEqual(['hello', 'sendPublic']);
    h.conn.joined();
    expect(h.conn.ready).toBe(true);
    expect(h.conn.state).toEqual({ state: 'ready', attempt: 0 });
  });

  it('hands over text messages of the current socket only', () => {
    const h = harness();
    const s1 = ready(h);
    s1.receive('{"type":"pong","ts":1}');
    s1.onmessage?.({ data: new ArrayBuffer(2) });
    s1.serverClose();
    vi.runOnlyPendingTimers();
    s1.receive('late'); // its handlers are gone; a stale socket cannot speak
    expect(h.messages).toEqual(['{"type":"pong","ts":1}']);
  });

  it('cannot send without an open socket', () => {
    const h = harness();
    expect(h.conn.send({ action: 'ping' })).toBe(false);
    h.conn.start();
    expect(h.conn.send({ action: 'ping' })).toBe(false);
  });

  it('a send unanswered for 20 s drops the connection and reconnects', () => {
    const h = harness();
    const s = ready(h);
    h.conn.send({ action: 'sendPublic', message: 'anyone?' });
    vi.advanceTimersByTime(19_999);
    expect(h.conn.state.state).toBe('ready');
    vi.advanceTimersByTime(1);
    expect(s.closedWith).toEqual({ code: 1000, reason: 'no answer to sendPublic' });
    expect(h.conn.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4001, reason: 'no answer to sendPublic' } });
    // The owner hears of the loss before the status changes.
    expect(h.log.slice(-2)).toEqual(['lost', 'status:waiting']);
    vi.advanceTimersByTime(500);
    expect(h.sockets).toHaveLength(2);
  });

  it('is kept alive by an answer to what it sent', () => {
    const h = harness();
    ready(h);
    h.conn.send({ action: 'sendPublic', message: 'hi' });
    vi.advanceTimersByTime(10_000);
    h.conn.answered();
    vi.advanceTimersByTime(60_000);
    expect(h.conn.state.state).toBe('ready');
  });

  it('pings every 4 minutes when ready, and drops when a ping goes unanswered', () => {
    const h = harness({ pongTimeoutMs: 10_000 });
    const s = ready(h);
    settle(h);
    vi.advanceTimersByTime(4 * 60_000 - SETTLE_HELLO_MS);
    expect(s.actions()).toEqual(['hello', 'hello', 'ping']);
    h.conn.answered();
    vi.advanceTimersByTime(4 * 60_000 + 9_999);
    expect(h.conn.state.state).toBe('ready');
    vi.advanceTimersByTime(1);
    expect(h.conn.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001, reason: 'no answer to ping' } });
  });

  it('pings at once on pingNow when ready, and not otherwise', () => {
    const h = harness();
    h.conn.start();
    h.conn.pingNow();
    h.last().open();
    h.conn.pingNow();
    expect(h.last().actions()).toEqual(['hello']);
    h.conn.joined();
    h.conn.pingNow();
    expect(h.last().actions()).toEqual(['hello', 'ping']);
  });

  it('gives up on a socket that does not open within 20 s, then on a hello unanswered for 20 s', () => {
    const h = harness();
    h.conn.start();
    vi.advanceTimersByTime(20_000);
    expect(h.sockets[0].closedWith).not.toBeNull();
    expect(h.conn.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 4004, reason: 'no answer to connect' } });
    vi.advanceTimersByTime(500);
    h.last().open();
    vi.advanceTimersByTime(19_999);
    expect(h.conn.state.state).toBe('joining');
    vi.advanceTimersByTime(1);
    expect(h.conn.state).toMatchObject({ state: 'waiting', attempt: 2, lastClose: { code: 4002, reason: 'no answer to hello' } });
  });

  it('reconnects after a close with growing delays, asking for the URL afresh each time', () => {
    const h = harness();
    ready(h).serverClose(1001, 'Going Away');
    expect(h.conn.state).toEqual({ state: 'waiting', attempt: 1, retryAt: Date.now() + 500, lastClose: { code: 1001, reason: 'Going Away' } });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const wait = (h.conn.state.retryAt ?? 0) - Date.now();
      waits.push(wait);
      vi.advanceTimersByTime(wait);
      h.last().serverClose(1006, '');
    }
    expect(waits).toEqual([500, 1000, 2000]);
    expect(h.conn.state.attempt).toBe(4);
    expect(h.sockets.map((s) => s.url.split('?')[1])).toEqual(['attempt=1', 'attempt=2', 'attempt=3', 'attempt=4']);
  });

  it('drops on request and retries with the backoff', () => {
    const h = harness();
    const s = ready(h);
    h.conn.drop({ code: 4000, reason: 'server forgot the connection' });
    expect(s.closedWith).toEqual({ code: 1000, reason: 'server forgot the connection' });
    expect(h.conn.state).toMatchObject({ state: 'waiting', lastClose: { code: 4000 } });
    expect(h.log.slice(-2)).toEqual(['lost', 'status:waiting']);
  });

  it('tells the next URL why the last socket closed, and marks a close that came before the socket opened', () => {
    const lasts: Array<CloseReason | undefined> = [];
    const sockets: FakeSocket[] = [];
    const conn = new Connection(
      { socket: (url) => (sockets.push(new FakeSocket(url)), sockets[sockets.length - 1]), random: () => 0 },
      { url: (last) => (lasts.push(last), 'ws://chat.test/local'), message: () => {}, lost: () => {}, status: () => {} },
    );
    conn.start();
    sockets[0].serverClose(1006, ''); // refused at the handshake, or unreachable
    vi.advanceTimersByTime(500);
    sockets[1].open();
    sockets[1].serverClose(1001, 'Going Away');
    vi.advanceTimersByTime(1000);
    expect(lasts).toEqual([undefined, { code: 1006, reason: '', beforeOpen: true }, { code: 1001, reason: 'Going Away' }]);
  });

  it('waits for a URL that is a promise, within the 20 s a socket has to open', async () => {
    let give: (u: string) => void = () => {};
    const sockets: FakeSocket[] = [];
    const conn = new Connection(
      { socket: (url) => (sockets.push(new FakeSocket(url)), sockets[sockets.length - 1]), random: () => 0 },
      { url: () => new Promise<string>((r) => (give = r)), message: () => {}, lost: () => {}, status: () => {} },
    );
    conn.start();
    expect(conn.state.state).toBe('connecting');
    give('ws://chat.test/local?token=t');
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets.map((s) => s.url)).toEqual(['ws://chat.test/local?token=t']);
    // A URL that never comes: the attempt is given up like a socket that never opens.
    sockets[0].serverClose(1006, '');
    await vi.advanceTimersByTimeAsync(500);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(conn.state).toMatchObject({ state: 'waiting', lastClose: { code: 4004 } });
    give('ws://chat.test/local?token=late'); // the late one opens nothing
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(1);
  });

  it('keeps trying when the URL cannot make a socket', () => {
    const h = harness({
      socket: () => {
        throw new SyntaxError('bad URL');
      },
    });
    h.conn.start();
    expect(h.conn.state).toMatchObject({ state: 'waiting', attempt: 1, lastClose: { code: 0, reason: 'invalid WebSocket URL' } });
    vi.advanceTimersByTime(500);
    expect(h.conn.state).toMatchObject({ state: 'waiting', attempt: 2 });
  });

  it('retries at once on reconnectNow, only while waiting', () => {
    const h = harness({ backoff: { initialMs: 60_000 } });
    const s = ready(h);
    h.conn.reconnectNow();
    expect(h.sockets).toHaveLength(1);
    s.serverClose();
    h.conn.reconnectNow();
    expect(h.sockets).toHaveLength(2);
    expect(h.conn.state.state).toBe('connecting');
    // The scheduled retry is gone with it.
    h.last().open();
    h.conn.joined();
    settle(h);
    vi.advanceTimersByTime(60_000);
    expect(h.sockets).toHaveLength(2);
  });

  it('says hello again 2 s after the state, once, without becoming ready again', () => {
    const h = harness();
    const s = ready(h);
    const statuses = h.statuses.length;
    vi.advanceTimersByTime(SETTLE_HELLO_MS - 1);
    expect(s.actions()).toEqual(['hello']);
    vi.advanceTimersByTime(1);
    expect(s.actions()).toEqual(['hello', 'hello']);
    h.conn.answered();
    h.conn.joined();
    expect(h.statuses).toHaveLength(statuses);
    vi.advanceTimersByTime(3 * 60_000);
    expect(s.actions()).toEqual(['hello', 'hello']);
  });

  it('is held to the answer timeout like any frame sent', () => {
    const h = harness({ random: () => 0 });
    ready(h);
    vi.advanceTimersByTime(SETTLE_HELLO_MS + 19_999);
    expect(h.conn.state.state).toBe('ready');
    vi.advanceTimersByTime(1);
    expect(h.conn.state).toMatchObject({ state: 'waiting', lastClose: { code: 4001, reason: 'no answer to hello' } });
  });

  it('does not say it again on a socket that closed before, and says it once on the next', () => {
    const h = harness({ random: () => 0 });
    const s1 = ready(h);
    vi.advanceTimersByTime(SETTLE_HELLO_MS - 1);
    s1.serverClose();
    vi.advanceTimersByTime(500);
    const s2 = h.last();
    s2.open();
    vi.advanceTimersByTime(SETTLE_HELLO_MS);
    expect(s1.actions()).toEqual(['hello']);
    expect(s2.actions()).toEqual(['hello']);
    h.conn.joined();
    settle(h);
    expect(s2.actions()).toEqual(['hello', 'hello']);
  });

  it('stays down after stop(), and tells the owner the socket is gone', () => {
    const h = harness();
    const s = ready(h);
    h.conn.stop();
    expect(s.closedWith).toEqual({ code: 1000, reason: 'bye' });
    expect(h.log.slice(-2)).toEqual(['lost', 'status:stopped']);
    vi.advanceTimersByTime(10 * 60_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.conn.state).toEqual({ state: 'stopped', attempt: 0 });
    h.conn.start();
    expect(h.sockets).toHaveLength(2);
  });

  it('starts once: start() while running does nothing', () => {
    const h = harness();
    h.conn.start();
    h.conn.start();
    expect(h.sockets).toHaveLength(1);
  });
});
