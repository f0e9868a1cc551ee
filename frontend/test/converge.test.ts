// When a page reads its member list again and asks for the count
// (converge.ts): a quiet moment after the last change, once the count moved
// on since the list was read (big room) or the whole list and the count
// disagree, never in a loop; a big room's count is asked for on a period
// that grows with the room, and that a busy room does not keep putting off.
import { describe, expect, it } from 'vitest';
import { Converger, pollPeriodMs, QUIET_MS, RETRIES_MAX, wantsRead, type ListView, type Timers } from '../src/converge';
import { applyPresence, NO_PRESENCE, presentNames, relist, type Presence } from '../src/presence';
import { sortNames } from '../src/protocol';

/** Timers run by hand: advance(ms) fires what is due, in order. */
class FakeTimers implements Timers {
  now = 0;
  private next = 1;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.due.set(id, { at: this.now + ms, fn });
    return id;
  }
  clear(h: unknown): void {
    this.due.delete(h as number);
  }
  random(): number {
    return 1; // the longest jitter and poll period: the bound holds at the worst
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const first = [...this.due.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!first) break;
      this.due.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = end;
  }
}

const view = (v: Partial<ListView>): ListView => ({ count: 30, cv: 10, listCv: 10, listed: 30, big: true, whole: true, ...v });

describe('wantsRead', () => {
  it('reads a big room whose count moved on since its list was read, once per version', () => {
    expect(wantsRead(view({ cv: 12, listCv: 10, listed: 30, count: 30 }), 0)).toBe(true);
    expect(wantsRead(view({ cv: 12, listCv: 10, whole: false, listed: 100, count: 300 }), 1)).toBe(false);
  });
  it('reads a whole list that disagrees with the count, at most RETRIES_MAX times a version', () => {
    expect(wantsRead(view({ big: false, listed: 5, count: 2 }), 0)).toBe(true);
    expect(wantsRead(view({ big: false, listed: 5, count: 2 }), RETRIES_MAX)).toBe(false);
  });
  it('leaves a list alone that agrees with a count it was read at', () => {
    expect(wantsRead(view({}), 0)).toBe(false);
    expect(wantsRead(view({ big: false, cv: 14 }), 0)).toBe(false); // a small room's list follows its frames
    expect(wantsRead(view({ count: null }), 0)).toBe(false);
  });
});

describe('pollPeriodMs', () => {
  it('does not poll a room that names every change, and polls a bigger one more rarely the bigger it is', () => {
    expect(pollPeriodMs(20)).toBeNull();
    expect(pollPeriodMs(21)).toBe(5_250);
    expect(pollPeriodMs(45)).toBe(11_250);
    expect(pollPeriodMs(959)).toBe(239_750);
    expect(pollPeriodMs(960)).toBeNull(); // the keep-alive's pong comes as often: no ping more than before
  });
});

describe('Converger', () => {
  function setup(v: ListView) {
    const timers = new FakeTimers();
    const calls: string[] = [];
    const state = { v, connected: true };
    const c = new Converger(
      {
        view: () => state.v,
        read: () => (calls.push(`read@${timers.now}`), state.connected),
        poll: () => (calls.push(`poll@${timers.now}`), state.connected),
      },
      timers,
    );
    return { timers, calls, state, c };
  }

  it('reads once the changes stop, not on every change', () => {
    const { timers, calls, state, c } = setup(view({ big: false, count: 3, listed: 5 }));
    for (let i = 0; i < 5; i++) {
      c.changed();
      timers.advance(QUIET_MS / 2);
    }
    expect(calls).toEqual([]);
    timers.advance(QUIET_MS);
    expect(calls).toHaveLength(1);
    // Answered with the same disagreement (the index still lagged): tried again later, then no more.
    for (let i = 0; i < 10; i++) {
      c.answered();
      timers.advance(60_000);
    }
    expect(calls).toHaveLength(RETRIES_MAX);
    // The count moves on: tried again.
    state.v = { ...state.v, cv: 12 };
    c.changed();
    timers.advance(60_000);
    expect(calls).toHaveLength(RETRIES_MAX + 1);
  });

  it('asks nothing while a read is unanswered', () => {
    const { timers, calls, c } = setup(view({ cv: 12 }));
    c.changed();
    timers.advance(10_000);
    c.changed();
    timers.advance(10_000);
    expect(calls.filter((s) => s.startsWith('read'))).toHaveLength(1);
  });

  it("polls a big room's count within its period however busy the room is, and stops when it is small", () => {
    const { timers, calls, state, c } = setup(view({ count: 45 }));
    const period = pollPeriodMs(45) ?? 0;
    for (let t = 0; t < 3 * period; t += 500) {
      state.v = { ...state.v, count: 40 + ((t / 500) % 10) }; // the count changing twice a second
      c.changed();
      timers.advance(500);
    }
    const polls = calls.filter((s) => s.startsWith('poll'));
    expect(polls.length).toBeGreaterThanOrEqual(2);
    state.v = { ...state.v, count: 10 };
    c.changed();
    timers.advance(10 * period);
    expect(calls.filter((s) => s.startsWith('poll'))).toEqual(polls);
    c.stop();
  });
});

describe('relist', () => {
  const p0 = (): Presence => applyPresence(NO_PRESENCE, { type: 'state', members: ['Ann', 'Bob', 'Cid', 'Dot'] });
  const shown = (p: Presence) => sortNames(presentNames(p));

  it('takes the list read, dropping whom no frame removed', () => {
    const p = p0();
    expect(shown(relist(p, ['Ann', 'Eve'], p.last))).toEqual(['Ann', 'Eve']);
  });

  it('keeps what frames applied after the read was asked for said', () => {
    const p = p0();
    const since = p.last;
    const q = applyPresence(applyPresence(p, { type: 'joined', name: 'Fay', ts: 5 }), { type: 'left', name: 'Ann', ts: 6 });
    // The read was made before both frames: it lists Ann, not Fay.
    expect(shown(relist(q, ['Ann', 'Bob'], since))).toEqual(['Bob', 'Fay']);
  });
});
