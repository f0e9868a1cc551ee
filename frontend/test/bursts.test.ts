// Bursts of joins and leaves become one line (and one screen-reader
// announcement) each; "N new messages ↓" says what arrived below.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { burstText, Bursts, newBelowText } from '../src/bursts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** The line as read: without the bidi isolates around each name. */
const plain = (s: string) => s.replace(/[\u2068\u2069]/g, '');

function collect() {
  const lines: string[] = [];
  const b = new Bursts((text) => lines.push(plain(text)));
  return { lines, b };
}

describe('burstText', () => {
  it('names up to three people, then counts the others', () => {
    expect(plain(burstText('joined', ['Ann']))).toBe('Ann joined');
    expect(plain(burstText('joined', ['Ann', 'Bob']))).toBe('Ann and Bob joined');
    expect(plain(burstText('left', ['Ann', 'Bob', 'Cy']))).toBe('Ann, Bob and Cy left');
    expect(plain(burstText('joined', ['Ann', 'Bob', 'Cy', 'Di']))).toBe('Ann, Bob and 2 others joined');
    expect(plain(burstText('lost', ['Ann']))).toBe('Ann left (connection lost)');
  });
  it('with sign-in, puts the username beside a name that differs, so mallory as "alice" does not look like alice', () => {
    expect(plain(burstText('joined', [{ name: 'alice', username: 'mallory' }, { name: 'bob', username: 'bob' }]))).toBe(
      'alice (@mallory) and bob joined',
    );
  });
  it('isolates the name and the username each', () => {
    expect(burstText('left', [{ name: 'Alicia', username: 'alice' }])).toBe('\u2068Alicia\u2069 (@\u2068alice\u2069) left');
  });
});

describe('Bursts', () => {
  it('keeps the username each notice came with', () => {
    const { lines, b } = collect();
    b.add('left', 'alice', 1, 'mallory');
    b.add('left', 'Bo', 2);
    vi.advanceTimersByTime(1_000);
    expect(lines).toEqual(['alice (@mallory) and Bo left']);
  });

  it('fifty joins within a few seconds are one line, written once it is quiet', () => {
    const { lines, b } = collect();
    for (let i = 0; i < 50; i++) {
      b.add('joined', `p${i}`, i);
      vi.advanceTimersByTime(50);
    }
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(lines).toEqual(['p0, p1 and 48 others joined']);
  });

  it('a single join is written after a short quiet spell', () => {
    const { lines, b } = collect();
    b.add('joined', 'Ann', 1);
    vi.advanceTimersByTime(999);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual(['Ann joined']);
  });

  it('an endless stream is still written every few seconds', () => {
    const { lines, b } = collect();
    for (let i = 0; i < 100; i++) {
      b.add('joined', `p${i}`, i);
      vi.advanceTimersByTime(500);
    }
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(13);
  });

  it('a leave ends a burst of joins, in order', () => {
    const { lines, b } = collect();
    b.add('joined', 'Ann', 1);
    b.add('joined', 'Bob', 2);
    b.add('left', 'Ann', 3);
    expect(lines).toEqual(['Ann and Bob joined']);
    vi.runAllTimers();
    expect(lines).toEqual(['Ann and Bob joined', 'Ann left']);
  });

  it('flush writes what is collected at once (a message is about to follow); clear forgets it', () => {
    const { lines, b } = collect();
    b.add('joined', 'Ann', 1);
    b.flush();
    b.flush();
    expect(lines).toEqual(['Ann joined']);
    b.add('joined', 'Bob', 2);
    b.clear();
    vi.runAllTimers();
    expect(lines).toEqual(['Ann joined']);
  });

  it('the same name twice in a burst is named once', () => {
    const { lines, b } = collect();
    b.add('lost', 'Ann', 1);
    b.add('lost', 'Ann', 2);
    b.flush();
    expect(lines).toEqual(['Ann left (connection lost)']);
  });
});

describe('newBelowText', () => {
  it('counts what arrived below', () => {
    expect(newBelowText(1)).toBe('1 new message ↓');
    expect(newBelowText(7)).toBe('7 new messages ↓');
  });
});
