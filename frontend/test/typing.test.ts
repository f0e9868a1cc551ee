// Typing (issue 26 #4): a page says it is typing at most once every 3 s while
// its box has text for everyone, and shows who else is typing until their
// message, their leaving, or 5 s without a renewal.
import { describe, expect, it } from 'vitest';
import { TYPING_EVERY_MS, TYPING_SHOWN_MS } from '../src/protocol.gen';
import { TypingSender, TypingShown, typingLine, type TypingTimers } from '../src/typing';

describe('TypingSender', () => {
  function sender(ready = true) {
    let now = 1_000_000;
    let sent = 0;
    const s = new TypingSender(
      () => {
        if (ready) sent++;
        return ready;
      },
      () => now,
    );
    return { s, sent: () => sent, advance: (ms: number) => (now += ms) };
  }

  it('sends once per 3 s of typing, and at once after a message went out', () => {
    const h = sender();
    h.s.typed('h', false);
    h.s.typed('he', false);
    h.advance(TYPING_EVERY_MS - 1);
    h.s.typed('hel', false);
    expect(h.sent()).toBe(1);
    h.advance(1);
    h.s.typed('hell', false);
    expect(h.sent()).toBe(2);
    h.s.sent();
    h.s.typed('n', false);
    expect(h.sent()).toBe(3);
  });

  it('says nothing for an empty box or a private message', () => {
    const h = sender();
    h.s.typed('   ', false);
    h.s.typed('secret', true);
    expect(h.sent()).toBe(0);
  });

  it('a typing that could not be sent (not connected) is tried again at the next keystroke', () => {
    let ready = false;
    let sent = 0;
    const s = new TypingSender(() => (ready ? ++sent > 0 : false), () => 0);
    s.typed('a', false);
    ready = true;
    s.typed('ab', false);
    expect(sent).toBe(1);
  });
});

describe('TypingShown', () => {
  function shown() {
    const lines: string[] = [];
    const due = new Map<number, { fn: () => void; at: number }>();
    let now = 0;
    let next = 0;
    const timers: TypingTimers = {
      set: (fn, ms) => {
        due.set(++next, { fn, at: now + ms });
        return next;
      },
      clear: (h) => due.delete(h as number),
    };
    const t = new TypingShown((l) => lines.push(l), timers);
    const advance = (ms: number) => {
      now += ms;
      for (const [h, d] of [...due]) if (d.at <= now) (due.delete(h), d.fn());
    };
    return { t, lines, advance, last: () => lines[lines.length - 1] ?? '' };
  }
  const me = { name: 'Me', account: 'acc-me' };

  it('shows a typist for 5 s after their last typing, renewed by the next', () => {
    const h = shown();
    h.t.typing({ name: 'Alice', account: 'acc-a' }, me);
    expect(h.last()).toBe('Alice is typing…');
    h.advance(TYPING_SHOWN_MS - 1);
    h.t.typing({ name: 'Alice', account: 'acc-a' }, me);
    h.advance(TYPING_SHOWN_MS - 1);
    expect(h.last()).toBe('Alice is typing…');
    h.advance(1);
    expect(h.last()).toBe('');
  });

  it('her message (or her leaving) ends it at once, by account even after a rename', () => {
    const h = shown();
    h.t.typing({ name: 'Alice', account: 'acc-a' }, me);
    h.t.typing({ name: 'Bob' }, me);
    expect(h.last()).toBe('Alice and Bob are typing…');
    h.t.stopped({ name: 'Alicia', account: 'acc-a' });
    expect(h.last()).toBe('Bob is typing…');
    h.t.stopped({ name: 'BOB' });
    expect(h.last()).toBe('');
  });

  it('a typing frame stamped before her message, arriving after it, does not bring the line back', () => {
    const h = shown();
    h.t.typing({ name: 'Alice', account: 'acc-a', ts: 1000 }, me);
    h.t.stopped({ name: 'Alice', account: 'acc-a' }, 1200); // her message, sent at 1200
    h.t.typing({ name: 'Alice', account: 'acc-a', ts: 1150 }, me); // the keystroke before Enter, delivered late
    expect(h.last()).toBe('');
    h.t.typing({ name: 'Alice', account: 'acc-a', ts: 1300 }, me); // she types again
    expect(h.last()).toBe('Alice is typing…');
  });

  it('never shows this page’s own person (another device of the same account, or the same name)', () => {
    const h = shown();
    h.t.typing({ name: 'Me', account: 'acc-me' }, me);
    h.t.typing({ name: 'me' }, { name: 'Me' });
    expect(h.lines).toEqual([]);
  });

  it('clear forgets everyone (a new room or connection)', () => {
    const h = shown();
    h.t.typing({ name: 'Alice' }, me);
    h.t.clear();
    expect(h.last()).toBe('');
    h.advance(TYPING_SHOWN_MS);
    expect(h.lines).toEqual(['Alice is typing…', '']);
  });
});

describe('typingLine', () => {
  it('names up to three, then counts the others', () => {
    expect(typingLine([])).toBe('');
    expect(typingLine(['A'])).toBe('A is typing…');
    expect(typingLine(['A', 'B'])).toBe('A and B are typing…');
    expect(typingLine(['A', 'B', 'C'])).toBe('A, B and C are typing…');
    expect(typingLine(['A', 'B', 'C', 'D', 'E'])).toBe('A, B and 3 others are typing…');
  });
});
