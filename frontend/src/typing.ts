// "Alice is typing…" (docs/protocol.md, `typing`). Two halves, no DOM:
// - TypingSender decides when the page says it is typing: while the box has
//   text and the message is to everyone, at most once every TYPING_EVERY_MS;
//   a sent message ends the burst, so the next keystroke speaks at once.
// - TypingShown keeps who else is typing, each for TYPING_SHOWN_MS after
//   their last `typing`, until their message (or their leaving) ends it, and
//   says it in one line.

import type { TypingFrame } from './protocol';
import { TYPING_EVERY_MS, TYPING_SHOWN_MS } from './protocol.gen';

export class TypingSender {
  private last = -Infinity;

  constructor(
    private readonly say: () => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** The box changed: text is what it holds, privately whether the message is to selected people only. */
  typed(text: string, privately: boolean): void {
    if (!text.trim() || privately) return; // a private message's typing would tell the room who writes privately
    const now = this.now();
    if (now - this.last < TYPING_EVERY_MS) return;
    if (this.say()) this.last = now;
  }

  /** The message went out: the next keystroke is a new burst. */
  sent(): void {
    this.last = -Infinity;
  }
}

/** Who a frame is: the account with sign-in, else the name. */
function keyOf(f: { name: string; account?: string }): string {
  return f.account ? `a:${f.account}` : `n:${f.name.toLowerCase()}`;
}

export interface TypingTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: TypingTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class TypingShown {
  private readonly typists = new Map<string, { name: string; timer: unknown }>();
  /** The time of each person's last message: a typing frame of theirs from before it is old news. */
  private readonly sentAt = new Map<string, number>();

  /** changed is told the line to show ('' for none) whenever it changes. */
  constructor(
    private readonly changed: (line: string) => void,
    private readonly timers: TypingTimers = realTimers,
  ) {}

  /** A typing frame; me is who this page is, whose own frames (another device of theirs) are not shown. */
  typing(f: Pick<TypingFrame, 'name' | 'account'> & { ts?: number }, me: { name: string; account?: string }): void {
    const key = keyOf(f);
    if (key === keyOf(me) || (!f.account && f.name.toLowerCase() === me.name.toLowerCase())) return;
    // The server handles a socket's frames concurrently, so the typing frame of a keystroke just before Enter
    // can arrive after the message it typed: it is stamped when the server received it, before the message.
    if (f.ts !== undefined && f.ts <= (this.sentAt.get(key) ?? -Infinity)) return;
    const had = this.typists.get(key);
    if (had) this.timers.clear(had.timer);
    const timer = this.timers.set(() => this.stopped(f), TYPING_SHOWN_MS);
    this.typists.set(key, { name: f.name, timer });
    if (had?.name !== f.name) this.render();
  }

  /** Their message arrived (sent at ts), or they left: they are no longer typing. */
  stopped(f: { name: string; account?: string }, ts?: number): void {
    const key = keyOf(f);
    if (ts !== undefined) this.sentAt.set(key, Math.max(ts, this.sentAt.get(key) ?? ts));
    const had = this.typists.get(key);
    if (!had) return;
    this.timers.clear(had.timer);
    this.typists.delete(key);
    this.render();
  }

  /** A new room or connection: nobody is typing. */
  clear(): void {
    this.sentAt.clear();
    for (const t of this.typists.values()) this.timers.clear(t.timer);
    const any = this.typists.size > 0;
    this.typists.clear();
    if (any) this.render();
  }

  private render(): void {
    this.changed(typingLine([...this.typists.values()].map((t) => t.name)));
  }
}

/** The line for who is typing, in the order they started. */
export function typingLine(names: string[]): string {
  switch (names.length) {
    case 0:
      return '';
    case 1:
      return `${names[0]} is typing…`;
    case 2:
      return `${names[0]} and ${names[1]} are typing…`;
    case 3:
      return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    default:
      return `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
  }
}
