// The outbox alone, on a fake wire: nothing the user sends is lost silently.
// Queued while the wire is not ready and sent in order once it is, confirmed
// by ref or from the history, failed with the server's error, unconfirmed
// when the socket dropped after sending — and never sent twice by itself.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outbox, type OutboxItem } from '../src/outbox';
import type { PublicFrame } from '../src/protocol';
import { FakeWire } from './fakes';

function harness() {
  const wire = new FakeWire();
  const events: OutboxItem[] = [];
  const outbox = new Outbox(wire, (i) => events.push(i));
  const states = () => outbox.pending().map((i) => i.state);
  return { wire, events, outbox, states };
}

const stored = (id: string, message: string, extra: Partial<PublicFrame> = {}): PublicFrame => ({
  type: 'public',
  id,
  ts: Date.now(),
  room: 'lobby',
  from: 'Alice',
  message,
  ...extra,
});

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the outbox', () => {
  it('sends at once on a ready wire, with a ref of its own, and forgets the item on its echo', () => {
    const { wire, events, outbox } = harness();
    wire.ready = true;
    const item = outbox.add({ action: 'sendPublic', message: 'hi' });
    expect(wire.sent).toEqual([{ action: 'sendPublic', message: 'hi', ref: item.ref }]);
    expect(events.map((e) => e.state)).toEqual(['sent']);
    outbox.settle({ type: 'public', id: '01A', ts: 1, room: 'lobby', from: 'Alice', message: 'hi', ref: item.ref });
    expect(outbox.pending()).toEqual([]);
    expect(events.at(-1)).toMatchObject({ ref: item.ref, state: 'done', echo: { id: '01A' } });
  });

  it('gives every frame its own ref, at most 64 characters, and keeps one given', () => {
    const { outbox } = harness();
    const a = outbox.add({ action: 'sendPublic', message: 'a' });
    const b = outbox.add({ action: 'sendPublic', message: 'b' });
    const c = outbox.add({ action: 'sendPublic', message: 'c', ref: 'mine' });
    expect(a.ref).not.toBe(b.ref);
    expect(a.ref.length).toBeLessThanOrEqual(64);
    expect(c.ref).toBe('mine');
  });

  it('queues messages while the wire is not ready and flushes them in order once it is', () => {
    const { wire, outbox, states } = harness();
    const a = outbox.add({ action: 'sendPublic', message: 'one' });
    const b = outbox.add({ action: 'sendPrivate', to: ['Bob'], message: 'two' });
    const c = outbox.add({ action: 'setName', name: 'Al' });
    expect(wire.sent).toEqual([]);
    expect(states()).toEqual(['queued', 'queued', 'queued']);
    wire.ready = true;
    outbox.flush();
    expect(wire.sent).toEqual([
      { action: 'sendPublic', message: 'one', ref: a.ref },
      { action: 'sendPrivate', to: ['Bob'], message: 'two', ref: b.ref },
      { action: 'setName', name: 'Al', ref: c.ref },
    ]);
    expect(states()).toEqual(['sent', 'sent', 'sent']);
  });

  it('keeps an item queued when the wire refuses it', () => {
    const { wire, events, outbox, states } = harness();
    wire.ready = true;
    wire.open = false;
    outbox.add({ action: 'sendPublic', message: 'hi' });
    expect(states()).toEqual(['queued']);
    expect(events).toEqual([]);
    wire.open = true;
    outbox.flush();
    expect(states()).toEqual(['sent']);
  });

  it('marks an item failed with the server\'s error, and lets it be sent again or dismissed', () => {
    const { wire, outbox, states } = harness();
    wire.ready = true;
    const item = outbox.add({ action: 'sendPrivate', to: ['Zed'], message: 'psst' });
    outbox.settle({ type: 'error', code: 'recipients_unknown', message: 'Nobody called Zed is in this room.', action: 'sendPrivate', unknown: ['Zed'], ref: item.ref });
    expect(outbox.pending()).toEqual([expect.objectContaining({ state: 'failed', error: expect.objectContaining({ unknown: ['Zed'] }) })]);
    outbox.retry(item.ref);
    expect(states()).toEqual(['sent']);
    expect(outbox.pending()[0].error).toBeUndefined();
    expect(wire.actions()).toEqual(['sendPrivate', 'sendPrivate']);
    outbox.settle({ type: 'error', code: 'recipients_unknown', message: 'Still not here.', ref: item.ref });
    outbox.discard(item.ref);
    expect(outbox.pending()).toEqual([]);
  });

  it('does not discard what is on the wire, nor retry what is queued or sent', () => {
    const { wire, outbox, states } = harness();
    wire.ready = true;
    const item = outbox.add({ action: 'sendPublic', message: 'hi' });
    outbox.discard(item.ref);
    outbox.retry(item.ref);
    expect(states()).toEqual(['sent']);
    expect(wire.sent).toHaveLength(1);
  });

  it('marks what was sent unconfirmed when the socket is lost, and never resends it by itself', () => {
    const { wire, events, outbox, states } = harness();
    wire.ready = true;
    const sent = outbox.add({ action: 'sendPublic', message: 'did it arrive?' });
    wire.ready = false;
    outbox.add({ action: 'sendPublic', message: 'later' });
    outbox.lost();
    expect(states()).toEqual(['unconfirmed', 'queued']);
    expect(events.at(-1)).toMatchObject({ ref: sent.ref, state: 'unconfirmed' });
    wire.ready = true;
    outbox.flush();
    expect(wire.sent.map((f) => 'message' in f && f.message)).toEqual(['did it arrive?', 'later']);
    // Sending it again is the user's choice.
    outbox.retry(sent.ref);
    expect(wire.sent.map((f) => 'message' in f && f.message)).toEqual(['did it arrive?', 'later', 'did it arrive?']);
  });
});

describe('confirming from the history after a reconnect', () => {
  /** A public message sent, then the socket lost before its echo. */
  function unconfirmed(message = 'did it arrive?') {
    const h = harness();
    h.wire.ready = true;
    const item = h.outbox.add({ action: 'sendPublic', message });
    h.outbox.lost();
    h.wire.ready = false;
    return { ...h, item };
  }

  it('confirms an unconfirmed public message the server stored', () => {
    const { outbox, events, item, wire } = unconfirmed();
    const entry = stored('01B', 'did it arrive?');
    outbox.confirmFromHistory([entry], 'Alice');
    expect(outbox.pending()).toEqual([]);
    expect(events.at(-1)).toMatchObject({ ref: item.ref, state: 'done', echo: entry });
    outbox.flush();
    expect(wire.sent).toHaveLength(1);
  });

  it('takes only an entry from the name it was sent under, with the same text', () => {
    const { outbox } = unconfirmed();
    outbox.confirmFromHistory([stored('01B', 'did it arrive?', { from: 'Bob' }), stored('01C', 'did it arrive')], 'Alice');
    expect(outbox.pending().map((i) => i.state)).toEqual(['unconfirmed']);
  });

  it('takes only an entry stored after the item went out', () => {
    const h = harness();
    h.wire.ready = true;
    h.outbox.seen('01JDZ4W7Q8T5V9XGQ2J3K4M5N6');
    h.outbox.add({ action: 'sendPublic', message: 'ok' });
    h.outbox.lost();
    h.outbox.confirmFromHistory([stored('01JDZ4W7Q8T5V9XGQ2J3K4M5N6', 'ok')], 'Alice');
    expect(h.outbox.pending().map((i) => i.state)).toEqual(['unconfirmed']);
    h.outbox.confirmFromHistory([stored('01JDZ4W7Q8T5V9XGQ2J3K4M5N7', 'ok')], 'Alice');
    expect(h.outbox.pending()).toEqual([]);
  });

  it('does not take an entry from more than 5 minutes before it was sent', () => {
    const { outbox } = unconfirmed();
    outbox.confirmFromHistory([stored('01B', 'did it arrive?', { ts: Date.now() - 5 * 60_000 - 1 })], 'Alice');
    expect(outbox.pending().map((i) => i.state)).toEqual(['unconfirmed']);
  });

  it('does not take a message that already confirmed another item: a second "ok" is not swallowed', () => {
    const h = harness();
    h.wire.ready = true;
    const first = h.outbox.add({ action: 'sendPublic', message: 'ok' });
    const second = h.outbox.add({ action: 'sendPublic', message: 'ok' });
    const echoFirst = stored('01JDZ4W7Q8T5V9XGQ2J3K4M5N6', 'ok');
    h.outbox.seen(echoFirst.id);
    h.outbox.settle({ ...echoFirst, ref: first.ref });
    h.outbox.lost();
    h.outbox.confirmFromHistory([echoFirst], 'Alice');
    expect(h.outbox.pending()).toEqual([expect.objectContaining({ ref: second.ref, state: 'unconfirmed' })]);
  });

  it('confirms only public messages: a private one or a rename stays unconfirmed', () => {
    const h = harness();
    h.wire.ready = true;
    h.outbox.add({ action: 'sendPrivate', to: ['Bob'], message: 'psst' });
    h.outbox.add({ action: 'setName', name: 'psst' });
    h.outbox.lost();
    h.outbox.confirmFromHistory([stored('01B', 'psst')], 'Alice');
    expect(h.outbox.pending().map((i) => i.state)).toEqual(['unconfirmed', 'unconfirmed']);
  });
});

describe('a rate-limited message', () => {
  it('shows when it will be sent, sends itself then and before a message typed after, not earlier', () => {
    const { wire, events, outbox } = harness();
    wire.ready = true;
    const a = outbox.add({ action: 'sendPublic', message: 'one too many' });
    outbox.settle({
      type: 'error',
      code: 'rate_limited',
      message: 'Too many messages: at most 20 in 10s. Try again in 3 s.',
      retryAfterMs: 3000,
      action: 'sendPublic',
      ref: a.ref,
    });
    // Not failed: waiting, with the time it goes.
    expect(events.at(-1)).toMatchObject({ ref: a.ref, state: 'queued', retryAt: Date.now() + 3000 });
    const b = outbox.add({ action: 'sendPublic', message: 'typed after' });
    vi.advanceTimersByTime(2999);
    expect(wire.sent.map((f) => f.ref)).toEqual([a.ref]);
    vi.advanceTimersByTime(1);
    // One at a time until nothing waits: the server may store a burst out of order.
    expect(wire.sent.map((f) => f.ref)).toEqual([a.ref, a.ref]);
    outbox.settle(stored('01B', 'one too many', { ref: a.ref }));
    expect(wire.sent.map((f) => f.ref)).toEqual([a.ref, a.ref, b.ref]);
    expect(outbox.pending().map((i) => i.state)).toEqual(['sent']);
    // Nothing waits any more: a message goes out at once again.
    outbox.settle(stored('01C', 'typed after', { ref: b.ref }));
    const c = outbox.add({ action: 'sendPublic', message: 'c' });
    const d = outbox.add({ action: 'sendPublic', message: 'd' });
    expect(wire.sent.map((f) => f.ref).slice(3)).toEqual([c.ref, d.ref]);
  });

  it('waits for a ready wire when the connection dropped meanwhile, then goes first', () => {
    const { wire, outbox } = harness();
    wire.ready = true;
    const a = outbox.add({ action: 'sendPublic', message: 'x' });
    outbox.settle({ type: 'error', code: 'rate_limited', message: 'Too many', retryAfterMs: 1000, action: 'sendPublic', ref: a.ref });
    wire.ready = false;
    vi.advanceTimersByTime(5000);
    const b = outbox.add({ action: 'sendPublic', message: 'y' });
    wire.ready = true;
    outbox.flush();
    expect(wire.sent.map((f) => f.ref)).toEqual([a.ref, a.ref]);
    outbox.settle(stored('01B', 'x', { ref: a.ref }));
    expect(wire.sent.map((f) => f.ref)).toEqual([a.ref, a.ref, b.ref]);
  });
});
