// The protocol state of one person in one room, as the server's frames set
// it: the name and room to (re)connect with, the resume token that hands the
// name over on reconnect (docs/protocol.md), taking the name back when a
// reconnect found it still held, and which name warning was last reported.

import { foldName, type ErrorFrame, type MembersFrame, type RenamedFrame, type StateFrame, type Warning } from './protocol';
import { fixedRef } from './outbox';
import type { Wire } from './wire';
import { Action, ErrorCode } from './protocol.gen';

/** The connection URL: the stage URL with name, room and a resume token added to its query. */
export function connectUrl(base: string, name: string, room: string, resume?: string | null): string {
  const u = new URL(base);
  if (name) u.searchParams.set('name', name);
  else u.searchParams.delete('name');
  u.searchParams.set('room', room);
  if (resume) u.searchParams.set('resume', resume);
  return u.toString();
}

/**
 * A resume token made by the page for its first connect: 16 random bytes,
 * base64url without padding, as the server makes them. The server keeps a
 * well-formed token it is given, so a first connect that dies after taking
 * the name (a Lambda timeout) leaves the name under this token, and the
 * page's next connect, presenting it, gets the name back at once instead of
 * being a guest for 30 s (docs/protocol.md, Reconnecting).
 */
export function newResumeToken(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return btoa(String.fromCharCode(...b))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** Delays after a reconnect's state at which a taken name is asked for again. */
export const RECLAIM_AFTER_MS = [2_000, 5_000, 15_000, 60_000];

/** The ref of the client's own attempts to take its name back after a reconnect. */
const RECLAIM_REF = fixedRef('reclaim');

export class Session {
  /** The name to (re)connect with: the one the server last gave us. */
  private myName: string;
  private myRoom: string;
  /**
   * The name this client had before a reconnect found it taken — usually by
   * its own previous connection, which API Gateway has not cleaned up yet. The
   * client asks for it back (see reclaim) until it gets it or the user picks
   * another name.
   */
  private wanted: string | null = null;
  private reclaimTimers: Array<ReturnType<typeof setTimeout>> = [];
  /**
   * The resume token of the connection whose claim holds our name: presented
   * on reconnect, the server hands the name over at once. A reconnect that
   * ended up a guest keeps the older token, which still matches the claim on
   * the name it wants.
   */
  private resume: string | null = null;
  /** The current connection's token; it holds the name after a rename. */
  private connToken: string | null = null;
  private everJoined = false;
  /** The last warning reported. */
  private lastWarning: Warning | null = null;

  /** wire is used to ask for a taken name back, only when ready; resume is a token kept from before a reload (else one is made). */
  constructor(
    name: string,
    room: string,
    private readonly wire: Wire,
    resume?: string,
  ) {
    this.myName = name;
    this.myRoom = room;
    this.resume = resume ?? newResumeToken();
  }

  /** What a reload needs to come back as the same person: the name to ask for and the token that holds it. */
  get resumable(): { name: string; room: string; resume: string | null } {
    return { name: this.wanted ?? this.myName, room: this.myRoom, resume: this.resume };
  }

  get name(): string {
    return this.myName;
  }

  get room(): string {
    return this.myRoom;
  }

  /** The URL of the next connection: with the name we want and the token that holds it. */
  url(base: string): string {
    return connectUrl(base, this.wanted ?? this.myName, this.myRoom, this.resume);
  }

  onState(f: StateFrame): void {
    const asked = this.wanted ?? this.myName;
    this.myName = f.you;
    this.myRoom = f.room;
    // A taken name on the first connect is someone else's; after a reconnect
    // it is most likely our own previous connection's.
    if (this.everJoined && f.warning?.code === ErrorCode.NameTaken && foldName(asked) !== foldName(f.you)) {
      this.wanted = asked;
    }
    this.connToken = f.resume ?? null;
    if (this.wanted === null) this.resume = this.connToken;
    this.everJoined = true;
  }

  /** The connection is ready: a name still wanted is asked for a little later, a few times. */
  joined(): void {
    if (this.wanted === null) return;
    this.clearReclaim();
    this.reclaimTimers = RECLAIM_AFTER_MS.map((ms) => setTimeout(() => this.reclaim(), ms));
  }

  onRenamed(f: RenamedFrame): void {
    if (f.oldName !== this.myName) return;
    this.myName = f.name;
    this.resume = this.connToken;
    if (this.wanted !== null && foldName(f.name) === foldName(this.wanted)) this.giveUpReclaim();
  }

  /** A stale connection was removed: if it held the name we want, ask at once. */
  onMembers(f: MembersFrame): void {
    if (this.wanted !== null && f.gone.some((g) => foldName(g) === foldName(this.wanted ?? ''))) this.reclaim();
  }

  /** An answer to asking for the name back: still taken, the next attempt is scheduled. */
  isReclaimAnswer(f: ErrorFrame): boolean {
    return f.ref === RECLAIM_REF;
  }

  /** The user picked a name: their choice wins over the one we wanted back. */
  choseName(): void {
    this.giveUpReclaim();
  }

  /** The socket is gone: asking for the name back starts again with the next state. */
  lost(): void {
    this.clearReclaim();
  }

  /**
   * Whether to report the state's warning about the name: the server repeats
   * it in every state until the name changes, that is after every reconnect,
   * so only one that differs in code or message from the last one counts.
   */
  isNewWarning(w: Warning): boolean {
    const last = this.lastWarning;
    if (last && last.code === w.code && last.message === w.message) return false;
    this.lastWarning = { ...w };
    return true;
  }

  /** Asks for the wanted name back; the server answers renamed or name_taken. */
  private reclaim(): void {
    if (this.wanted === null || !this.wire.ready) return;
    this.wire.send({ action: Action.SetName, name: this.wanted, ref: RECLAIM_REF });
  }

  private giveUpReclaim(): void {
    this.wanted = null;
    this.clearReclaim();
  }

  private clearReclaim(): void {
    for (const t of this.reclaimTimers) clearTimeout(t);
    this.reclaimTimers = [];
  }
}
