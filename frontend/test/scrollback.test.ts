import { describe, expect, it } from 'vitest';
import type { ErrorFrame, HistoryPageFrame, PublicFrame } from '../src/protocol';
import { HISTORY_REF, ScrollbackCursor, keptScrollTop, olderGoesAbove, shownAfter, shownBeforeConfirmed } from '../src/scrollback';

const msg = (id: string): PublicFrame => ({ type: 'public', id, ts: 1, room: 'r', from: 'a', message: id });
const page = (cursor: string | undefined, ...ids: string[]): HistoryPageFrame => ({
  type: 'historyPage',
  room: 'r',
  history: ids.map(msg),
  private: [],
  ...(cursor !== undefined ? { cursor } : {}),
  ref: HISTORY_REF,
});
const error = (code: string, retryAfterMs?: number): ErrorFrame => ({
  type: 'error',
  code,
  message: 'no',
  action: 'history',
  ref: HISTORY_REF,
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});

describe('scrollback', () => {
  it('says nothing before a state, and the beginning after a state without a cursor', () => {
    const s = new ScrollbackCursor();
    expect(s.top).toBe('none');
    expect(s.next()).toBeNull();
    s.state(undefined);
    expect(s.top).toBe('beginning');
    expect(s.next()).toBeNull();
  });

  it("asks from the state's cursor, one request at a time, then from each page's", () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    expect(s.top).toBe('older');
    expect(s.next()).toEqual({ action: 'history', cursor: 'c1', ref: HISTORY_REF });
    s.sent();
    expect(s.top).toBe('loading');
    expect(s.next()).toBeNull();
    expect(s.page(page('c2', 'B', 'A')).map((m) => m.id)).toEqual(['A', 'B']);
    expect(s.next()?.cursor).toBe('c2');
    s.sent();
    s.page(page(undefined, 'Z'));
    expect(s.top).toBe('beginning');
    expect(s.next()).toBeNull();
  });

  it("keeps its older cursor when a reconnect's state comes after pages were read", () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    s.sent();
    s.page(page('c2', 'A'));
    s.state('newer');
    expect(s.next()?.cursor).toBe('c2');
  });

  it('may ask again when the request could not go', () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    s.sent();
    s.unsent();
    expect(s.next()?.cursor).toBe('c1');
  });

  it('waits out rate_limited, then asks again', () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    s.sent();
    expect(s.error(error('rate_limited', 2500), 1000)).toBeNull();
    expect(s.retryAt).toBe(3500);
    expect(s.top).toBe('loading');
    expect(s.next(true)).toBeNull();
    s.retry();
    expect(s.next()?.cursor).toBe('c1');
  });

  it('says another error and asks again only when the button is pressed', () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    s.sent();
    expect(s.error(error('internal'), 0)).toMatch(/could not be read/);
    expect(s.top).toBe('older');
    expect(s.next()).toBeNull();
    expect(s.next(true)?.cursor).toBe('c1');
  });

  it('stops for good once the log let its oldest entries go', () => {
    const s = new ScrollbackCursor();
    s.state('c1');
    s.trim();
    expect(s.top).toBe('trimmed');
    expect(s.next(true)).toBeNull();
    s.reset();
    expect(s.top).toBe('none');
  });

  it('keeps the message in view at its offset: scrolls by what went in above it', () => {
    expect(keptScrollTop(0, 12, 1812)).toBe(1800);
    expect(keptScrollTop(40, 12, 12)).toBe(40);
  });
});

describe('the order of messages shown', () => {
  it('puts messages of one millisecond in the order of their ids, as the record does', () => {
    // 01J…A and 01J…B were stamped in the same millisecond: a page's A goes above B in view.
    expect(shownAfter(1000, '01JAAAAAAAAAAAAAAAAAAAAAAB', 1000, '01JAAAAAAAAAAAAAAAAAAAAAAA')).toBe(true);
    expect(shownAfter(1000, '01JAAAAAAAAAAAAAAAAAAAAAAA', 1000, '01JAAAAAAAAAAAAAAAAAAAAAAB')).toBe(false);
    expect(shownAfter(1001, '01JAAAAAAAAAAAAAAAAAAAAAAA', 1000, '01JAAAAAAAAAAAAAAAAAAAAAAB')).toBe(true);
    expect(shownAfter(999, '01JAAAAAAAAAAAAAAAAAAAAAAZ', 1000, '01JAAAAAAAAAAAAAAAAAAAAAAB')).toBe(false);
  });

  it('keeps an entry without an id (a join or a notice) before a message of its millisecond', () => {
    expect(shownAfter(1000, undefined, 1000, '01JAAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(shownAfter(1000, '01JAAAAAAAAAAAAAAAAAAAAAAA', 1000, '')).toBe(false);
  });

  it("puts a page's older messages above a notice of a later time: a line of who left, arrived before the history was shown, at the top of the log", () => {
    // Under load a room's leavers' presence reached a page that had just
    // joined before its state did: the line went first, above the history,
    // and every page read back went below it, the message in view not kept.
    const older = { ts: 1000, id: '01JAAAAAAAAAAAAAAAAAAAAAAA' };
    expect(olderGoesAbove({ kind: 'notice', ts: 5000 }, older.ts, older.id)).toBe(true);
    expect(olderGoesAbove({ kind: 'notice', ts: 900 }, older.ts, older.id)).toBe(false);
    expect(olderGoesAbove({ kind: 'message', ts: 5000, id: '01JBAAAAAAAAAAAAAAAAAAAAAA' }, older.ts, older.id)).toBe(true);
    expect(olderGoesAbove({ kind: 'other' }, older.ts, older.id)).toBe(false);
  });

  it('puts a message shown while yours waited, and sent before it, above yours once confirmed: a pending bubble below stays below', () => {
    // Under load bob's page showed alice's earlier message (its live frame
    // late, or from the settle hello's history) below his bubble, which
    // kept that place when its echo confirmed it: his answer above her question.
    const mine = { ts: 2000, id: '01JBAAAAAAAAAAAAAAAAAAAAAA' };
    expect(shownBeforeConfirmed({ kind: 'message', ts: 1500, id: '01JAAAAAAAAAAAAAAAAAAAAAAA' }, mine.ts, mine.id)).toBe(true);
    expect(shownBeforeConfirmed({ kind: 'message', ts: 2000, id: '01JAAAAAAAAAAAAAAAAAAAAAAZ' }, mine.ts, mine.id)).toBe(true);
    expect(shownBeforeConfirmed({ kind: 'notice', ts: 1900 }, mine.ts, mine.id)).toBe(true);
    expect(shownBeforeConfirmed({ kind: 'message', ts: 2500, id: '01JCAAAAAAAAAAAAAAAAAAAAAA' }, mine.ts, mine.id)).toBe(false);
    expect(shownBeforeConfirmed({ kind: 'notice', ts: 2100 }, mine.ts, mine.id)).toBe(false);
    expect(shownBeforeConfirmed({ kind: 'other' }, mine.ts, mine.id)).toBe(false);
  });
});
