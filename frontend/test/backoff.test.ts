// The reconnect delays alone: exponential growth with equal jitter, and a
// schedule that starts over only after a connection that held.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, RetrySchedule } from '../src/backoff';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-26T10:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('backoffDelay', () => {
  it('computes exponential delays with equal jitter, capped', () => {
    const b = DEFAULT_BACKOFF;
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b, () => 0))).toEqual([
      500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, b, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 10000, 10000, 10000,
    ]);
    expect(backoffDelay(2, b, () => 0.5)).toBe(3000);
  });

  it('never comes sooner than half the nominal delay, nor later than it', () => {
    for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
      const d = backoffDelay(3, DEFAULT_BACKOFF, () => r);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe('the retry schedule', () => {
  const fixed = (b = {}) => new RetrySchedule(b, 30_000, () => 0);

  it('waits longer after each failed attempt: 1 s, 2 s, 4 s … up to 10 s (before jitter)', () => {
    const s = fixed();
    expect(Array.from({ length: 7 }, () => s.next(false))).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('starts over after a connection that stayed ready 30 s', () => {
    const s = fixed();
    s.next(false);
    s.next(false);
    s.ready();
    vi.advanceTimersByTime(30_000);
    expect(s.next(true)).toBe(500);
  });

  it('keeps growing when each connection is ready only briefly', () => {
    const s = fixed();
    const waits = [];
    for (let i = 0; i < 4; i++) {
      s.ready();
      vi.advanceTimersByTime(29_999);
      waits.push(s.next(true));
    }
    expect(waits).toEqual([500, 1000, 2000, 4000]);
  });

  it('does not start over for a connection that never became ready, however long it took', () => {
    const s = fixed();
    s.ready();
    s.next(false);
    vi.advanceTimersByTime(60_000);
    expect(s.next(false)).toBe(1000);
  });

  it('starts over on reset (the client was started again)', () => {
    const s = fixed();
    s.next(false);
    s.next(false);
    s.reset();
    expect(s.next(false)).toBe(500);
  });

  it('takes the given delays, and the defaults for those left out or undefined', () => {
    const s = new RetrySchedule({ initialMs: 100, maxMs: undefined }, 30_000, () => 1);
    expect([s.next(false), s.next(false)]).toEqual([100, 200]);
    const capped = new RetrySchedule({ initialMs: 2_000, factor: 3 }, 30_000, () => 1);
    expect([capped.next(false), capped.next(false), capped.next(false)]).toEqual([2_000, 6_000, 10_000]);
  });

  it('a first delay longer than the default bound (?backoff=60000) is waited in full, not cut to 10 s', () => {
    // The browser tests hold a page offline with it while they look at it:
    // cut to 5–10 s, a loaded run's page was back before it was looked at.
    const s = new RetrySchedule({ initialMs: 60_000 }, 30_000, () => 0);
    expect([s.next(false), s.next(false)]).toEqual([30_000, 30_000]);
  });
});
