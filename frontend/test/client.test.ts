// ChatClient as the page uses it, against a fake socket and fake timers: the
// connection, outbox and session together (each is also tested alone in its
// own file). Hello on open, reconnect with exponential backoff and jitter, the
// keep-alive ping, and the outbox (queued while disconnected, sent after
// reconnect and hello, confirmed by ref, or visibly failed/unconfirmed — never
// dropped silently).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeSocket, state } from './fakes';
import { harness, ready, type Harness } from './clientharness';

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
