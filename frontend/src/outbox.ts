// The outbox makes sure nothing the user sends is lost silently. Every frame
// gets a ref and is queued until the connection is ready, then sent, then
// either confirmed by the server's echo (matched by ref, or found in the
// history after a reconnect), failed with the server's error, or marked
// unconfirmed when the socket dropped before the echo. It never resends by
// itself what may have arrived: that could post it twice. An answer that has
// not come within ANSWER_TIMEOUT_MS will not come (the invocation that had
// the frame is over): the outbox says so (unanswered), and the client takes
// the connection for lost, as if the socket had dropped.

import type { ClientFrame, ErrorFrame, PublicFrame, ServerFrame } from './protocol';
import { ErrorCode } from './protocol.gen';
import type { Wire } from './wire';
import { Action } from './protocol.gen';

/**
 * queued: waits for a ready connection. sent: on the wire, no answer yet.
 * unconfirmed: the socket closed before the server answered; it may or may not
 * have arrived. failed: the server answered with an error. done: the server
 * echoed it (the item leaves the outbox).
 */
export type OutboxState = 'queued' | 'sent' | 'unconfirmed' | 'failed' | 'done';

export interface OutboxItem {
  ref: string;
  frame: ClientFrame & { ref: string };
  state: OutboxState;
  /** Date.now() when it was last put on the wire. */
  sentAt?: number;
  /**
   * The newest message id the client had seen when it last put the item on the
   * wire ('' when none): the server's id for it, if it stored it, sorts after.
   */
  seenId?: string;
  error?: ErrorFrame;
  /**
   * Queued after the server answered rate_limited: the time (Date.now()) it
   * sends itself again, when the server said it will be accepted.
   */
  retryAt?: number;
  /** The server frame that confirmed it (public, private or renamed). */
  echo?: ServerFrame;
}

/**
 * How long a frame on the wire waits for its answer before its connection is
 * taken for lost: the function's timeout (25 s, contract.FunctionTimeout) and
 * a margin. The server posts the sender's own copy last, after every other
 * reader's (docs/design.md, Fan-out), so an invocation that ended before it
 * leaves the frame unanswered, whatever else the socket still receives.
 */
export const ANSWER_TIMEOUT_MS = 30_000;

let refSeq = 0;
const refPrefix = Math.random().toString(36).slice(2, 8);

/** A ref unique to this page load. */
export function newRef(): string {
  refSeq += 1;
  return `${refPrefix}-${refSeq}`;
}

/** A fixed ref of this page load, for frames that bypass the outbox; it never clashes with newRef's. */
export function fixedRef(name: string): string {
  return `${refPrefix}-${name}`;
}

export class Outbox {
  private readonly items: OutboxItem[] = [];
  /** The newest message id (public or private) seen; ULIDs sort by time as strings. */
  private newestId = '';
  /**
   * Ids that already confirmed an item (by ref or from history): a message
   * confirms at most one item. Bounded: only recent ids matter.
   */
  private readonly confirmedIds = new Set<string>();
  /**
   * After a rate_limited answer nothing is sent before this time (Date.now()),
   * so that what waits goes first, in order; holdTimer flushes then.
   */
  private holdUntil = 0;
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * After a rate_limited answer, until nothing waits: one frame on the wire at
   * a time, the next once the last was answered. The server handles frames of
   * one socket concurrently; a burst sent at once after the wait was stored
   * out of order in the browser test (20, 23, 22, 21).
   */
  private pacing = false;
  /** A frame was refused reauth_required: nothing goes out until signedIn. */
  private awaitingSignIn = false;
  /** The answer timer of each item on the wire. */
  private readonly answerTimers = new Map<OutboxItem, ReturnType<typeof setTimeout>>();

  /**
   * emit is told of every change of an item's state (with a copy); unanswered,
   * when a frame on the wire got no answer within ANSWER_TIMEOUT_MS.
   */
  constructor(
    private readonly wire: Wire,
    private readonly emit: (item: OutboxItem) => void,
    private readonly unanswered: () => void = () => {},
  ) {}

  /** Items not yet confirmed: queued, sent, unconfirmed or failed. */
  pending(): OutboxItem[] {
    return this.items.map((i) => ({ ...i }));
  }

  /** Sends a frame when the wire is ready, or queues it until flush(). */
  add(frame: ClientFrame): OutboxItem {
    const item: OutboxItem = { ref: frame.ref ?? newRef(), frame: { ...frame, ref: frame.ref ?? '' }, state: 'queued' };
    item.frame.ref = item.ref;
    // Behind what waits (a rate-limited message), in order.
    const behind = this.items.some((i) => i.state === 'queued');
    this.items.push(item);
    if (this.wire.ready && !behind && !this.held()) this.transmit(item);
    else this.changed(item);
    return { ...item };
  }

  /**
   * Takes over an item of another outbox (a client stopped because the
   * session ended, and the page signed in again): a queued one is sent when
   * this wire is ready, after what is queued already; one that was on the wire
   * is unconfirmed (history may still confirm it); a failed one stays failed,
   * for the person to send again.
   */
  adopt(from: OutboxItem): void {
    const item: OutboxItem = { ...from, frame: { ...from.frame } };
    if (item.state === 'sent') item.state = 'unconfirmed';
    if (item.state === 'done') return;
    this.items.push(item);
    if (item.state === 'queued' && this.wire.ready) this.transmit(item);
    else this.changed(item);
  }

  /** Queues an unconfirmed or failed item again. */
  retry(ref: string): void {
    const item = this.items.find((i) => i.ref === ref);
    if (!item || (item.state !== 'unconfirmed' && item.state !== 'failed')) return;
    item.state = 'queued';
    delete item.error;
    // Behind what waits already, in order.
    const behind = this.items.some((i) => i !== item && i.state === 'queued');
    if (this.wire.ready && !behind && !this.held()) this.transmit(item);
    else this.changed(item);
  }

  /** Forgets an item that is not on the wire (the user gave up on it). */
  discard(ref: string): void {
    const i = this.items.findIndex((x) => x.ref === ref);
    if (i < 0 || this.items[i].state === 'sent') return;
    const [item] = this.items.splice(i, 1);
    item.state = 'done';
    this.changed(item);
  }

  /** The wire became ready (or a rate limit's wait is over): sends the queued items, in order. */
  flush(): void {
    if (this.held()) return;
    if (!this.items.some((i) => i.state === 'queued')) this.pacing = false;
    for (const item of this.items) {
      if (item.state !== 'queued') continue;
      if (this.pacing && this.items.some((i) => i.state === 'sent')) return;
      const waited = item.retryAt !== undefined;
      delete item.retryAt;
      if (!this.transmit(item)) {
        if (waited) this.changed(item);
        return;
      }
    }
  }

  /** The socket is gone: what was sent may or may not have arrived. */
  lost(): void {
    for (const item of this.items) {
      if (item.state === 'sent') {
        item.state = 'unconfirmed';
        this.changed(item);
      }
    }
  }

  /** A message (public or private) arrived with this id. */
  seen(id: string): void {
    if (id > this.newestId) this.newestId = id;
  }

  /** Matches a frame carrying our ref to the item it answers. */
  settle(f: ServerFrame): void {
    const ref = 'ref' in f ? f.ref : undefined;
    if (ref === undefined) return;
    const item = this.items.find((i) => i.ref === ref);
    if (!item) return;
    if (f.type === 'error' && f.code === ErrorCode.RateLimited && f.retryAfterMs !== undefined) {
      // Not stored, not sent: it sends itself once the server accepts it again.
      const at = Date.now() + Math.max(0, f.retryAfterMs);
      this.hold(at);
      item.state = 'queued';
      item.retryAt = at;
      this.changed(item);
    } else if (f.type === 'error' && f.code === ErrorCode.ReauthRequired) {
      // Not stored, not sent: queued until the connection signs in again
      // (the client's reauth, whose answer calls signedIn; a new
      // connection's state flushes too).
      this.awaitingSignIn = true;
      item.state = 'queued';
      this.changed(item);
    } else if (f.type === 'error') {
      item.state = 'failed';
      item.error = f;
      this.changed(item);
    } else {
      if (f.type === 'public' || f.type === 'private') this.noteConfirmed(f.id);
      item.state = 'done';
      item.echo = f;
      this.remove(item);
    }
    if (this.pacing && this.wire.ready) this.flush();
  }

  /**
   * A public message that went out just before a drop is in the state's
   * history if the server stored it; that confirms it without sending it
   * twice. Only an entry from `sender` (the name it was sent under) stored
   * after the item went out can be it (its id sorts after every id seen by
   * then), and a message confirms at most one item: an earlier, already
   * confirmed "ok" must not swallow a second "ok".
   */
  confirmFromHistory(history: PublicFrame[], sender: string): void {
    for (const item of this.items) {
      if (item.state !== 'unconfirmed' || item.frame.action !== Action.SendPublic) continue;
      const text = item.frame.message;
      const since = (item.sentAt ?? 0) - 5 * 60_000;
      const after = item.seenId ?? '';
      const echo = history.find(
        (h) => h.from === sender && h.message === text && h.ts >= since && h.id > after && !this.confirmedIds.has(h.id),
      );
      if (echo) {
        this.noteConfirmed(echo.id);
        item.state = 'done';
        item.echo = echo;
      }
    }
    for (const h of history) this.seen(h.id);
    for (const item of this.items.filter((i) => i.state === 'done')) this.remove(item);
  }

  private transmit(item: OutboxItem): boolean {
    if (!this.wire.send(item.frame)) return false;
    item.state = 'sent';
    item.sentAt = Date.now();
    item.seenId = this.newestId;
    clearTimeout(this.answerTimers.get(item));
    this.answerTimers.set(
      item,
      setTimeout(() => {
        this.answerTimers.delete(item);
        if (item.state === 'sent') this.unanswered();
      }, ANSWER_TIMEOUT_MS),
    );
    this.changed(item);
    return true;
  }

  /** The connection signed in again (reauthed, or a new connection's state): what reauth_required held goes out. */
  signedIn(): void {
    this.awaitingSignIn = false;
    this.flush();
  }

  private held(): boolean {
    return this.awaitingSignIn || Date.now() < this.holdUntil || (this.pacing && this.items.some((i) => i.state === 'sent'));
  }

  /** Sends nothing before at; then flushes (when the wire is ready; else the next ready flushes). */
  private hold(at: number): void {
    this.pacing = true;
    if (at <= this.holdUntil) return;
    this.holdUntil = at;
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.wire.ready) this.flush();
    }, at - Date.now());
  }

  private noteConfirmed(id: string): void {
    this.confirmedIds.add(id);
    if (this.confirmedIds.size > 1000) {
      // Sets iterate in insertion order: forget the oldest.
      const oldest = this.confirmedIds.values().next().value;
      if (oldest !== undefined) this.confirmedIds.delete(oldest);
    }
  }

  private remove(item: OutboxItem): void {
    const i = this.items.indexOf(item);
    if (i >= 0) this.items.splice(i, 1);
    this.changed(item);
  }

  private changed(item: OutboxItem): void {
    if (item.state !== 'sent') {
      clearTimeout(this.answerTimers.get(item));
      this.answerTimers.delete(item);
    }
    this.emit({ ...item });
  }
}
