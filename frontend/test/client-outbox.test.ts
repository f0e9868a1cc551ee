// ChatClient's outbox: queued while disconnected, sent after reconnect and
// hello, confirmed by ref, or visibly failed or unconfirmed, never dropped
// silently (see client.test.ts).
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

  it('takes the connection for lost when a frame gets no answer in 30 s, though the room keeps talking, and the history confirms it', () => {
    // The server posts the sender's copy last (docs/design.md, Fan-out): an
    // invocation that ended before it leaves the frame unanswered while the
    // socket and the room go on.
    const h = harness();
    const s = ready(h);
    const item = h.client.send({ action: 'sendPublic', message: 'anyone?' });
    const edit = h.client.send({ action: 'edit', id: '01A', message: 'fixed' });
    for (let i = 0; i < 29; i += 1) {
      vi.advanceTimersByTime(1_000);
      s.receive({ type: 'public', id: `01B${i}`, ts: Date.now(), room: 'lobby', from: 'Bob', message: `${i}` });
    }
    s.receive({ type: 'edited', room: 'lobby', id: '01A', message: 'fixed', edited: Date.now(), ref: edit.ref });
    expect(s.closedWith).toBeNull();
    expect(h.client.pending().map((i) => i.state)).toEqual(['sent']);
    vi.advanceTimersByTime(1_000);
    expect(s.closedWith).toMatchObject({ reason: 'a frame went unanswered' });
    expect(h.client.pending()).toEqual([expect.objectContaining({ ref: item.ref, state: 'unconfirmed' })]);

    vi.runOnlyPendingTimers();
    const s2 = h.last();
    expect(s2).not.toBe(s);
    s2.open();
    const stored = { type: 'public', id: '01C', ts: Date.now(), room: 'lobby', from: 'Alice', message: 'anyone?' };
    s2.receive(state('Alice', { history: [stored] }));
    expect(h.client.pending()).toEqual([]);
    expect(h.outbox.at(-1)).toMatchObject({ ref: item.ref, state: 'done', echo: stored });
  });

  it('keeps the connection when every frame is answered, however long the socket lives', () => {
    const h = harness();
    const s = ready(h);
    for (let i = 0; i < 5; i += 1) {
      const item = h.client.send({ action: 'sendPublic', message: `m${i}` });
      vi.advanceTimersByTime(15_000);
      s.receive({ type: 'public', id: `01D${i}`, ts: Date.now(), room: 'lobby', from: 'Alice', message: `m${i}`, ref: item.ref });
    }
    vi.advanceTimersByTime(60_000);
    expect(s.closedWith).toBeNull();
    expect(h.sockets).toHaveLength(1);
  });
});
