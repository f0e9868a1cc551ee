// The page converges (docs/design.md, *The page converges*): after activity
// stops, the count and the member list a page shows equal the server's
// within a bound. Two things can keep them apart:
// - a big room (over PRESENCE_LIVE_MAX) hears no names, and its count only
//   when the room's presence credit pays, so nothing tells a page of the
//   last changes: in such a room the page asks for the count itself (a
//   ping, whose pong carries it) every pollPeriodMs(count);
// - a list read from the room index (a state, a page of the list) or
//   followed from frames can miss a change (the index lags; a `left` was
//   never delivered): once the count the page holds is newer than its
//   list's (big room), or the whole list and the count disagree (any room),
//   the page reads the first page of the list again, a quiet moment after
//   the last change it heard of (QUIET_MS, longer than the index's lag),
//   spread by a jitter that grows with the room.
// Pure but for the timers, which are passed in: members.ts wires it to the
// page.

import { PRESENCE_LIVE_MAX } from './protocol';

/** How long after the last change the page heard of it reads the list again: past the room index's lag. */
export const QUIET_MS = 1_000;
/** The poll period of a big room's count, per member: the room as a whole asks at most 4 times a second. */
export const POLL_PER_MEMBER_MS = 250;
/** The shortest poll period, and the keep-alive's (connection.ts): a room that would poll as rarely leaves it to the keep-alive's pong. */
export const POLL_MIN_MS = 5_000;
export const KEEPALIVE_MS = 240_000;
/** Reads of the list that still disagree with the count at one count version: the index may lag longer than QUIET_MS. */
export const RETRIES_MAX = 3;
/** The jitter per member that spreads a room's reads (at most JITTER_MAX_MS). */
const JITTER_PER_MEMBER_MS = 10;
const JITTER_MAX_MS = 2_000;

/**
 * How often a page in a room of count members asks for the count; null: it
 * need not (the room names every change), or the keep-alive's pong, which
 * carries the count, comes as often (rooms of 960 and more).
 */
export function pollPeriodMs(count: number): number | null {
  if (count <= PRESENCE_LIVE_MAX) return null;
  const every = Math.max(count * POLL_PER_MEMBER_MS, POLL_MIN_MS);
  return every < KEEPALIVE_MS ? every : null;
}

/** What the page shows, as the rule reads it. */
export interface ListView {
  /** The room's count as the server last said it; null before any. */
  count: number | null;
  /** That count's version (cv; 0 before any). */
  cv: number;
  /** The version of the count the list was last read at (state, settle, a page read here). */
  listCv: number;
  /** How many names the list holds. */
  listed: number;
  /** A big room: the list is read, not followed. */
  big: boolean;
  /** The list read was the whole room (its page had no cursor), or it is followed from frames (small room). */
  whole: boolean;
}

/**
 * Whether the list is to be read again, tries reads made at the count's
 * current version already: once the count is newer than the list in a big
 * room, and, up to RETRIES_MAX times per version, while a whole list and
 * the count disagree.
 */
export function wantsRead(v: ListView, tries: number): boolean {
  if (v.count === null) return false;
  if (v.big && v.cv > v.listCv && tries === 0) return true;
  return v.whole && v.listed !== v.count && tries < RETRIES_MAX;
}

/** The timers, passed in (tests use fakes). */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  random(): number;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

export interface ConvergeHooks {
  /** The list and count as shown now. */
  view(): ListView;
  /** Asks for the first page of the member list; false: not connected. */
  read(): boolean;
  /** Asks for the room's count (a ping); false: not connected. */
  poll(): boolean;
}

/**
 * Schedules the reads and polls. The page calls changed() after every frame
 * that may change the list or the count, read() when a read it asked for
 * was answered, and stop() when it leaves the room.
 */
export class Converger {
  private quiet: unknown = null;
  private pollTimer: unknown = null;
  private pollEvery: number | null = null;
  private inFlight = false;
  /** The count version of the last read asked for, and how many were asked for at it. */
  private triedCv = -1;
  private tries = 0;

  constructor(
    private readonly hooks: ConvergeHooks,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Something changed, or the page was told something: a read waits for a quiet moment after it. */
  changed(): void {
    const v = this.hooks.view();
    this.repoll(v.count);
    if (this.quiet !== null) this.timers.clear(this.quiet);
    this.quiet = null;
    if (this.inFlight || !wantsRead(v, this.triesAt(v.cv))) return;
    const backoff = 2 ** this.triesAt(v.cv);
    const jitter = this.timers.random() * Math.min((v.count ?? 0) * JITTER_PER_MEMBER_MS, JITTER_MAX_MS);
    this.quiet = this.timers.set(() => this.fire(), QUIET_MS * backoff + jitter);
  }

  /** A read asked for here was answered (or failed): the rule is applied again. */
  answered(): void {
    this.inFlight = false;
    this.changed();
  }

  /** The room is left: nothing more is asked for. */
  stop(): void {
    if (this.quiet !== null) this.timers.clear(this.quiet);
    if (this.pollTimer !== null) this.timers.clear(this.pollTimer);
    this.quiet = this.pollTimer = null;
    this.pollEvery = null;
    this.inFlight = false;
    this.triedCv = -1;
    this.tries = 0;
  }

  private triesAt(cv: number): number {
    return cv === this.triedCv ? this.tries : 0;
  }

  private fire(): void {
    this.quiet = null;
    const v = this.hooks.view();
    const tries = this.triesAt(v.cv);
    if (this.inFlight || !wantsRead(v, tries)) return;
    if (!this.hooks.read()) return; // not connected: the state after the reconnect lists the room anew
    this.inFlight = true;
    this.triedCv = v.cv;
    this.tries = tries + 1;
  }

  /** Keeps the poll at the period the room's size asks for. */
  private repoll(count: number | null): void {
    const every = count === null ? null : pollPeriodMs(count);
    this.pollEvery = every;
    if (every === null) {
      if (this.pollTimer !== null) this.timers.clear(this.pollTimer);
      this.pollTimer = null;
    } else if (this.pollTimer === null) {
      // A poll already pending stays: a busy room's changes must not keep
      // putting it off. The next one takes the new period.
      this.schedulePoll(every);
    }
  }

  private schedulePoll(every: number): void {
    // Each period is drawn between half and the whole of it, so pages that
    // joined together do not ask together.
    this.pollTimer = this.timers.set(() => {
      this.pollTimer = null;
      this.hooks.poll();
      if (this.pollEvery !== null) this.schedulePoll(this.pollEvery);
    }, every * (0.5 + this.timers.random() / 2));
  }
}
