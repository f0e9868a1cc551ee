// The heartbeat alone, on fake timers: the keep-alive ping, and the deadline
// that a frame sent sets for any answer (a half-open connection is noticed).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Alarm, Heartbeat } from '../src/heartbeat';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function beat(intervalMs = 240_000, timeoutMs = 20_000) {
  const pings: number[] = [];
  const dead: string[] = [];
  const hb: Heartbeat = new Heartbeat(
    { intervalMs, timeoutMs },
    () => {
      pings.push(Date.now());
      hb.sent('ping');
    },
    (reason) => dead.push(reason),
  );
  return { hb, pings, dead };
}

describe('the heartbeat', () => {
  it('pings every interval once started, and not before', () => {
    const { hb, pings } = beat(60_000);
    vi.advanceTimersByTime(120_000);
    expect(pings).toHaveLength(0);
    hb.start();
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(60_000);
      hb.answered();
    }
    expect(pings).toHaveLength(3);
  });

  it('calls a ping unanswered for the timeout dead', () => {
    const { hb, dead } = beat(60_000, 20_000);
    hb.start();
    vi.advanceTimersByTime(60_000 + 19_999);
    expect(dead).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(dead).toEqual(['no answer to ping']);
  });

  it('calls a send unanswered for 20 s dead, without waiting for the next ping', () => {
    const { hb, dead } = beat();
    hb.start();
    hb.sent('sendPublic');
    vi.advanceTimersByTime(20_000);
    expect(dead).toEqual(['no answer to sendPublic']);
  });

  it('takes any answer as a sign of life', () => {
    const { hb, dead } = beat();
    hb.sent('sendPublic');
    vi.advanceTimersByTime(15_000);
    hb.answered();
    vi.advanceTimersByTime(60_000);
    expect(dead).toEqual([]);
  });

  it('counts the deadline from the oldest unanswered frame: later sends do not push it back', () => {
    const { hb, dead } = beat();
    hb.sent('sendPublic');
    vi.advanceTimersByTime(10_000);
    hb.sent('setName');
    vi.advanceTimersByTime(10_000);
    expect(dead).toEqual(['no answer to sendPublic']);
  });

  it('forgets pings and the deadline when stopped', () => {
    const { hb, pings, dead } = beat(1_000);
    hb.start();
    hb.sent('sendPublic');
    hb.stop();
    vi.advanceTimersByTime(60_000);
    expect(pings).toEqual([]);
    expect(dead).toEqual([]);
  });

  it('starts the ping period over when started again', () => {
    const { hb, pings } = beat(60_000);
    hb.start();
    vi.advanceTimersByTime(50_000);
    hb.start();
    vi.advanceTimersByTime(50_000);
    expect(pings).toEqual([]);
    vi.advanceTimersByTime(10_000);
    expect(pings).toHaveLength(1);
  });
});

describe('an alarm', () => {
  it('fires once, and a new start replaces the pending one', () => {
    const fired: string[] = [];
    const a = new Alarm();
    a.start(1_000, () => fired.push('first'));
    a.start(2_000, () => fired.push('second'));
    expect(a.running).toBe(true);
    vi.advanceTimersByTime(1_999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['second']);
    expect(a.running).toBe(false);
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual(['second']);
  });
});
