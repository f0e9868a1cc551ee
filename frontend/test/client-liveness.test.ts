// ChatClient keeping its connection alive: the keep-alive ping, and waking up
// (online again, the page visible again) (see client.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchWake } from '../src/wake';
import { state } from './fakes';
import { harness, ready } from './clientharness';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
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
    const one = h.client.send({ action: 'sendPublic', message: 'one' });
    vi.advanceTimersByTime(15_000);
    // Someone else's message: the connection is alive, even before the echo
    // (which comes 25 s after the send, past the heartbeat's 20 s and inside
    // the outbox's 30 s for an answer).
    s.receive({ type: 'joined', room: 'lobby', name: 'Bob', ts: 1 });
    vi.advanceTimersByTime(10_000);
    s.receive({ type: 'public', id: '01A', ts: 2, room: 'lobby', from: 'Alice', message: 'one', ref: one.ref });
    vi.advanceTimersByTime(50_000);
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
