// The session alone, on a fake wire: the name and room the server's frames
// set, the URL of the next connection (with the resume token), taking a name
// back that a reconnect found still held, and reporting a name warning once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientFrame, StateFrame } from '../src/protocol';
import { connectUrl, RECLAIM_AFTER_MS, Session } from '../src/session';
import { FakeWire, state } from './fakes';

const BASE = 'ws://127.0.0.1:8080/local';
const st = (you: string, extra: Partial<StateFrame> = {}) => state(you, extra) as StateFrame;
const taken = (you: string, resume?: string) =>
  st(you, { resume, warning: { code: 'name_taken', message: `The name "Alice" is already taken; you are ${you}.` } });

function harness() {
  const wire = new FakeWire();
  const session = new Session('Alice', 'lobby', wire);
  const asks = () => wire.sent.filter((f): f is Extract<ClientFrame, { action: 'setName' }> => f.action === 'setName');
  return { wire, session, asks };
}

/** Alice was in; her reconnect finds the name held (by her old connection). */
function reconnectedAsGuest() {
  const h = harness();
  h.session.onState(st('Alice', { resume: 'tok-1' }));
  h.session.joined();
  h.session.lost();
  h.session.onState(taken('guest-1234', 'tok-2'));
  h.wire.ready = true;
  h.session.joined();
  return h;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the connection URL', () => {
  it('puts name and room into the query, keeping the stage path', () => {
    expect(connectUrl('ws://127.0.0.1:8080/local', 'Al ice&x', 'lobby')).toBe(
      'ws://127.0.0.1:8080/local?name=Al+ice%26x&room=lobby',
    );
    expect(connectUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/prod', '', 'team')).toBe(
      'wss://abc.execute-api.eu-west-1.amazonaws.com/prod?room=team',
    );
  });

  it('carries the name and room the server gave, and the resume token from the first state on', () => {
    const { session } = harness();
    expect(session.url(BASE)).toMatch(new RegExp(`^${BASE}\\?name=Alice&room=lobby&resume=[A-Za-z0-9_-]{22}$`));
    session.onState(st('alice', { room: 'team', resume: 'tok-1' }));
    expect([session.name, session.room]).toEqual(['alice', 'team']);
    expect(session.url(BASE)).toBe(`${BASE}?name=alice&room=team&resume=tok-1`);
  });

  it('follows our own renames, not other people\'s, with the token of the connection that took the name', () => {
    const { session } = reconnectedAsGuest();
    session.onRenamed({ type: 'renamed', room: 'lobby', oldName: 'Bob', name: 'Robert', ts: 1 });
    expect(session.name).toBe('guest-1234');
    session.choseName(); // the user renamed
    session.onRenamed({ type: 'renamed', room: 'lobby', oldName: 'guest-1234', name: 'Al', ts: 2 });
    expect(session.name).toBe('Al');
    expect(session.url(BASE)).toBe(`${BASE}?name=Al&room=lobby&resume=tok-2`);
  });
});

describe('taking the name back after a reconnect', () => {
  it('reconnects with the wanted name and the token that holds it, not the guest\'s', () => {
    const { session } = reconnectedAsGuest();
    expect(session.name).toBe('guest-1234');
    expect(session.url(BASE)).toBe(`${BASE}?name=Alice&room=lobby&resume=tok-1`);
  });

  it('asks for it after 2, 5, 15 and 60 s, and then no more', () => {
    const { asks } = reconnectedAsGuest();
    const at: number[] = [];
    for (let t = 0; t <= 120_000; t += 1_000) {
      const before = asks().length;
      vi.advanceTimersByTime(1_000);
      if (asks().length > before) at.push(t + 1_000);
    }
    expect(at).toEqual(RECLAIM_AFTER_MS);
    expect(asks().every((f) => f.name === 'Alice' && f.ref === asks()[0].ref)).toBe(true);
  });

  it('knows the refusals as its own', () => {
    const { session, asks } = reconnectedAsGuest();
    vi.advanceTimersByTime(2_000);
    expect(session.isReclaimAnswer({ type: 'error', code: 'name_taken', message: 'taken', ref: asks()[0].ref })).toBe(true);
    expect(session.isReclaimAnswer({ type: 'error', code: 'name_taken', message: 'taken', ref: 'x-1' })).toBe(false);
    expect(session.isReclaimAnswer({ type: 'error', code: 'name_taken', message: 'taken' })).toBe(false);
  });

  it('asks at once when a members frame says the holder is gone', () => {
    const { session, asks } = reconnectedAsGuest();
    session.onMembers({ type: 'members', room: 'lobby', members: ['guest-1234'], gone: ['Bob'], ts: 1 });
    expect(asks()).toEqual([]);
    session.onMembers({ type: 'members', room: 'lobby', members: ['guest-1234'], gone: ['ALICE'], ts: 2 });
    expect(asks()).toEqual([expect.objectContaining({ name: 'Alice' })]);
  });

  it('stops asking once it has the name back', () => {
    const { session, asks } = reconnectedAsGuest();
    vi.advanceTimersByTime(2_000);
    session.onRenamed({ type: 'renamed', room: 'lobby', oldName: 'guest-1234', name: 'Alice', ts: 3 });
    vi.advanceTimersByTime(120_000);
    expect(asks()).toHaveLength(1);
    expect(session.name).toBe('Alice');
  });

  it('stops asking once the user picks a name', () => {
    const { session, asks } = reconnectedAsGuest();
    session.choseName();
    vi.advanceTimersByTime(120_000);
    expect(asks()).toEqual([]);
    expect(session.url(BASE)).toContain('name=guest-1234');
  });

  it('does not ask while the socket is gone or not ready, and starts over with the next state', () => {
    const { session, wire, asks } = reconnectedAsGuest();
    session.lost();
    wire.ready = false;
    vi.advanceTimersByTime(120_000);
    session.onMembers({ type: 'members', room: 'lobby', members: [], gone: ['Alice'], ts: 2 });
    expect(asks()).toEqual([]);
    session.onState(taken('guest-5678', 'tok-3'));
    wire.ready = true;
    session.joined();
    vi.advanceTimersByTime(2_000);
    expect(asks()).toEqual([expect.objectContaining({ name: 'Alice' })]);
  });

  it('does not fight for a name that was taken on the first connect', () => {
    const { session, wire, asks } = harness();
    session.onState(taken('guest-1234', 'tok-1'));
    wire.ready = true;
    session.joined();
    vi.advanceTimersByTime(120_000);
    expect(asks()).toEqual([]);
    expect(session.url(BASE)).toBe(`${BASE}?name=guest-1234&room=lobby&resume=tok-1`);
  });
});

describe('the name warning', () => {
  it('counts as new only when its code or message differs from the last one', () => {
    const { session } = harness();
    const seen = [
      { code: 'name_taken', message: 'one' },
      { code: 'name_taken', message: 'one' },
      { code: 'name_taken', message: 'two' },
      { code: 'name_invalid', message: 'two' },
      { code: 'name_invalid', message: 'two' },
    ].map((w) => session.isNewWarning(w));
    expect(seen).toEqual([true, false, true, true, false]);
  });
});
