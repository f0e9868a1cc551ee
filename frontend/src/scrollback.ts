// Scrollback: when the person scrolls to the top of the log (or presses
// "Load older messages"), the page asks for the page of the room's record
// before the oldest it shows (the history action, from the state's
// historyCursor, then each page's cursor), one request at a time, and puts
// its messages above, the message in view kept where it was. The marker at
// the top of the log says what is above: older messages, loading, or the
// room's beginning.

import type { ErrorFrame, HistoryPageFrame, HistoryRequest, PrivateFrame, PublicFrame } from './protocol';
import { Action, ErrorCode } from './protocol.gen';

/** The ref of the page's history requests: their errors are the scrollback's. */
export const HISTORY_REF = 'scrollback';

/** How near the top (px) a scroll has to come to load the previous page. */
export const LOAD_WITHIN_PX = 120;

/** What the marker at the top of the log says. */
export type TopState = 'older' | 'loading' | 'beginning' | 'trimmed' | 'none';

export const TOP_TEXT: Record<TopState, string> = {
  older: 'Older messages',
  loading: 'Loading older messages…',
  beginning: 'Beginning of the room',
  trimmed: 'Older messages are no longer kept on this page: reload it to read them',
  none: '',
};

/**
 * The pure part: where the next page starts, whether one is on its way, and
 * what a state, a page or an error changes. A request goes out only when
 * there is a cursor and no other request is waiting.
 */
export class ScrollbackCursor {
  private cursor: string | undefined;
  private loading = false;
  /** A page was read since the state: a reconnect's state keeps the older cursor. */
  private paged = false;
  private trimmed = false;
  /** A state was read: without a cursor, the log holds the room's beginning. */
  private started = false;
  /** The last request was refused: only the button asks again (not every scroll). */
  private failed = false;
  /** Set while waiting out rate_limited: the time to ask again. */
  retryAt: number | undefined;

  get top(): TopState {
    if (this.trimmed) return 'trimmed';
    if (this.loading || this.retryAt !== undefined) return 'loading';
    if (this.cursor !== undefined) return 'older';
    return this.started ? 'beginning' : 'none';
  }

  /** A state arrived (a join, or a reconnect's): its cursor, unless pages were read already. */
  state(cursor: string | undefined): void {
    this.started = true;
    if (this.paged) return;
    this.cursor = cursor;
  }

  /**
   * The next request, or null when none may go now (none left, one is
   * waiting, or, unless the person pressed the button, the last one failed).
   */
  next(pressed = false): HistoryRequest | null {
    if (this.cursor === undefined || this.loading || this.retryAt !== undefined || this.trimmed) return null;
    if (this.failed && !pressed) return null;
    this.failed = false;
    return { action: Action.History, cursor: this.cursor, ref: HISTORY_REF };
  }

  /** The request went out. */
  sent(): void {
    this.loading = true;
  }

  /** The request could not go (not connected): it may be asked again. */
  unsent(): void {
    this.loading = false;
  }

  /** A page arrived: the messages to show, oldest first. */
  page(f: HistoryPageFrame): Array<PublicFrame | PrivateFrame> {
    this.loading = false;
    this.paged = true;
    this.cursor = f.cursor;
    const all: Array<PublicFrame | PrivateFrame> = [...(f.history ?? []), ...(f.private ?? [])];
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * The request was refused. rate_limited waits retryAfterMs (retryAt is
   * set; the caller asks again then); anything else is said (the return
   * value), and only the button asks again.
   */
  error(f: ErrorFrame, now: number): string | null {
    this.loading = false;
    if (f.code === ErrorCode.RateLimited) {
      this.retryAt = now + (f.retryAfterMs ?? 1000);
      return null;
    }
    this.failed = true;
    return `Older messages could not be read: ${f.message}`;
  }

  /** The wait after rate_limited is over. */
  retry(): void {
    this.retryAt = undefined;
  }

  /** The log let its oldest entries go (a long session): no scrolling back past them. */
  trim(): void {
    this.trimmed = true;
  }

  /** A new room (or a new join): nothing known. */
  reset(): void {
    this.cursor = undefined;
    this.loading = false;
    this.paged = false;
    this.trimmed = false;
    this.started = false;
    this.failed = false;
    this.retryAt = undefined;
  }
}

/**
 * Where to scroll after inserting above: the element in view moved from
 * beforeTop to afterTop (px from the log's top edge); scrolling by the
 * difference puts it back where it was.
 */
export function keptScrollTop(scrollTop: number, beforeTop: number, afterTop: number): number {
  return scrollTop + (afterTop - beforeTop);
}

/**
 * Whether a message shown at (shownTs, shownId) comes after one at (ts, id):
 * by time, then, within one millisecond, by id, as the record orders them
 * (a ULID's time is the message's ts, its random part breaks the tie). By
 * time alone, a page's messages of the same millisecond as the one in view
 * went below it, out of the record's order.
 */
export function shownAfter(shownTs: number, shownId: string | undefined, ts: number, id: string): boolean {
  if (shownTs !== ts) return shownTs > ts;
  return shownId !== undefined && shownId !== '' && id !== '' && shownId > id;
}

/** A line of the log, as placing a page's message needs it: a message (its time and id), a notice (its time), or another. */
export type Line = { kind: 'message'; ts: number; id: string | undefined } | { kind: 'notice'; ts: number } | { kind: 'other' };

/**
 * Whether a message of a page of scrollback, at (ts, id), goes above this
 * line of the log: the first line it goes above is its place.
 */
export function olderGoesAbove(line: Line, ts: number, id: string): boolean {
  if (line.kind === 'message') return shownAfter(line.ts, line.id, ts, id);
  // A notice is of this session: a page of the record before it goes above.
  return line.kind === 'notice' && line.ts > ts;
}

/**
 * Whether a line below a message of yours just confirmed (its bubble's
 * place while it waited) goes above it: a message the record has before it,
 * shown while it waited (a live frame that came late, or a history's entry
 * whose frame missed this page), or a notice of before it. A bubble still
 * waiting stays below. The log keeps the record's order.
 */
export function shownBeforeConfirmed(line: Line, ts: number, id: string): boolean {
  return line.kind !== 'other' && !olderGoesAbove(line, ts, id);
}

/** What the view needs of the message log (messagelog.ts). */
export interface OlderLog {
  /** The marker at the top of the log. */
  setTop(text: string, button: boolean): void;
  /** Puts older messages in their places, the message in view kept where it was. */
  insertOlder(messages: Array<PublicFrame | PrivateFrame>): void;
  /** The log's scrolled element. */
  readonly element: HTMLElement;
}

/** The DOM part: the scroll that loads, the marker, the requests and their answers. */
export class Scrollback {
  readonly cursor = new ScrollbackCursor();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly log: OlderLog,
    private readonly ask: (f: HistoryRequest) => boolean,
    private readonly notice: (text: string) => void,
  ) {
    log.element.addEventListener('scroll', () => this.nearTop() && this.load(false), { passive: true });
  }

  /** A state arrived (the join's, or a reconnect's). */
  state(historyCursor: string | undefined): void {
    this.cursor.state(historyCursor);
    this.show();
  }

  /** The answer to a request. */
  page(f: HistoryPageFrame): void {
    this.log.insertOlder(this.cursor.page(f));
    this.show();
    // Still at the top (the page was short, or empty): read on.
    if (this.nearTop()) this.load(false);
  }

  /** An error frame for HISTORY_REF. */
  error(f: ErrorFrame): void {
    const said = this.cursor.error(f, Date.now());
    if (said) this.notice(said);
    if (this.cursor.retryAt !== undefined) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.cursor.retry();
        this.load(true);
      }, Math.max(0, this.cursor.retryAt - Date.now()));
    }
    this.show();
  }

  /** The log let its oldest entries go. */
  trimmed(): void {
    this.cursor.trim();
    this.show();
  }

  reset(): void {
    clearTimeout(this.timer);
    this.cursor.reset();
    this.show();
  }

  /** Asks for the previous page, if one may be asked for now. */
  load(pressed: boolean): void {
    const f = this.cursor.next(pressed);
    if (!f) return;
    if (this.ask(f)) this.cursor.sent();
    this.show();
  }

  private nearTop(): boolean {
    const e = this.log.element;
    return e.scrollTop <= LOAD_WITHIN_PX && e.scrollHeight > e.clientHeight;
  }

  private show(): void {
    const top = this.cursor.top;
    this.log.setTop(TOP_TEXT[top], top === 'older');
  }
}
