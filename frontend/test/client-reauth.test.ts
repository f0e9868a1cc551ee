// Signing in again in band (docs/protocol.md, Signing in again): a frame
// refused reauth_required waits, the client sends reauth with a fresh token
// on the same socket, and once reauthed the frame goes out again; the room
// and the connection stay. A refused reauth ends the socket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { harness, ready } from './clientharness';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('signing in again', () => {
  it('reauths on the same socket after reauth_required and sends the refused message again', async () => {
    const h = harness({ reauthToken: () => Promise.resolve('fresh-token') });
    const s = ready(h);
    const item = h.client.send({ action: 'sendPublic', message: 'hi' });
    s.receive({ type: 'error', code: 'reauth_required', message: 'Your sign-in ended.', action: 'sendPublic', ref: item.ref });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.sent.at(-1)).toEqual({ action: 'reauth', token: 'fresh-token' });
    expect(h.client.pending().map((i) => i.state)).toEqual(['queued']);
    expect(h.frames.map((f) => f.type)).not.toContain('error'); // nothing for the person to see
    s.receive({ type: 'reauthed', expiresAt: Date.now() + 15 * 60_000 });
    expect(s.sent.at(-1)).toEqual({ action: 'sendPublic', message: 'hi', ref: item.ref });
    expect(h.sockets).toHaveLength(1); // no reconnect
    expect(h.client.state.state).toBe('ready');
  });

  it('sends one reauth for several refused frames', async () => {
    const h = harness({ reauthToken: () => Promise.resolve('fresh-token') });
    const s = ready(h);
    const a = h.client.send({ action: 'sendPublic', message: 'a' });
    const b = h.client.send({ action: 'sendPublic', message: 'b' });
    s.receive({ type: 'error', code: 'reauth_required', message: '', action: 'sendPublic', ref: a.ref });
    s.receive({ type: 'error', code: 'reauth_required', message: '', action: 'sendPublic', ref: b.ref });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.sent.filter((f) => f.action === 'reauth')).toHaveLength(1);
  });

  it('reauthWith sends a renewed token on a ready socket', () => {
    const h = harness();
    const s = ready(h);
    expect(h.client.reauthWith('renewed')).toBe(true);
    expect(s.sent.at(-1)).toEqual({ action: 'reauth', token: 'renewed' });
  });

  it('drops the socket when the reauth is refused', () => {
    const h = harness({ reauthToken: () => Promise.resolve('stale') });
    const s = ready(h);
    s.receive({ type: 'error', code: 'reauth_refused', message: 'The account signed out everywhere.', action: 'reauth' });
    expect(h.client.state.state).not.toBe('ready');
  });
});
