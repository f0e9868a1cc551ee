// An edit on its way to the server. Each is sent with a ref of its own, so
// that an answer names it. When the budget refuses it (rate_limited) it is
// sent again once the server lets it (retryAfterMs), as the outbox does a
// message: an edit pressed right after a few messages used to be dropped
// with "Too many requests … Try again in 0.0 s" and the text left as it was.
// An edit made after it of the same message wins: the older one is not sent
// again over it; nor is one the page's room was left since (the next room
// has no such message). Any other refusal is the caller's to show.

import { Action, ErrorCode, type ClientFrame, type ServerFrame } from './protocol';

interface Pending {
  id: string;
  message: string;
  /** Its number (its ref's): a message's newest edit has the highest. */
  n: number;
  tries: number;
}

export interface EditTimers {
  set(fn: () => void, ms: number): unknown;
}

/** What the page says of an edit that could not go out. */
export const NOT_EDITED = 'Not connected: the message was not edited. Try again when the connection is back.';

/** The most tries of one edit the budget refuses before it is given up (and shown as refused). */
export const EDIT_TRIES = 5;

export class EditSender {
  private readonly pending = new Map<string, Pending>();
  /** Each message's newest edit, by its number. */
  private readonly newest = new Map<string, number>();
  /** The edits refused by the budget whose retry has not gone out yet. */
  private readonly waiting = new Set<Pending>();
  private seq = 0;

  constructor(
    private readonly ask: (f: ClientFrame) => boolean,
    private readonly timers: EditTimers = { set: (fn, ms) => setTimeout(fn, ms) },
    /** A refused edit that will not go out after all (no connection, or the room was left): the caller says so. */
    private readonly lost: (id: string) => void = () => {},
  ) {}

  /** The page left its room: every edit on its way is forgotten, and a retry still waiting is said lost. */
  clear(): void {
    for (const p of this.waiting) if (this.isNewest(p)) this.lost(p.id);
    this.waiting.clear();
    this.pending.clear();
    this.newest.clear();
  }

  /** Sends an edit now; false when it could not go out (the connection is not ready). */
  send(id: string, message: string): boolean {
    return this.transmit(id, message, 1);
  }

  /**
   * An answer to one of the edits: its own copy of `edited`, or its
   * refusal. True when the refusal is handled here (it sends itself again,
   * or a newer edit of the message replaced it); false for any frame the
   * caller shows as it would without this.
   */
  answered(f: ServerFrame): boolean {
    const ref = 'ref' in f ? f.ref : undefined;
    const p = ref === undefined ? undefined : this.pending.get(ref);
    if (ref === undefined || !p) return false;
    this.pending.delete(ref);
    if (f.type !== 'error' || f.code !== ErrorCode.RateLimited) return false;
    if (!this.isNewest(p)) return true;
    if (p.tries >= EDIT_TRIES) return false;
    this.waiting.add(p);
    this.timers.set(() => {
      if (!this.waiting.delete(p) || !this.isNewest(p)) return;
      if (!this.transmit(p.id, p.message, p.tries + 1)) this.lost(p.id);
    }, Math.max(0, f.retryAfterMs ?? 1000));
    return true;
  }

  private isNewest(p: Pending): boolean {
    return this.newest.get(p.id) === p.n;
  }

  private transmit(id: string, message: string, tries: number): boolean {
    const n = ++this.seq;
    this.newest.set(id, n); // tried, even if it cannot go out: an older one must not go over it
    const ref = `edit-${n}`;
    if (!this.ask({ action: Action.Edit, id, message, ref })) return false;
    this.pending.set(ref, { id, message, n, tries });
    return true;
  }
}
