// Bursts of presence notices: when fifty people join within a few seconds the
// log shows one line ("Ann, Bob and 48 others joined") and screen readers hear
// it once, instead of fifty lines and fifty announcements. A burst is written
// when it has been quiet for quietMs, at the latest maxMs after it began, and
// at once before anything else goes into the log, so the order stays true.

import { personLabel } from './sender';

export type BurstKind = 'joined' | 'left' | 'lost';

/** Someone a burst names: with sign-in, the username shows beside a name that differs. */
export interface BurstPerson {
  name: string;
  username?: string;
}

export interface BurstOptions {
  /** A burst ends after this long without another notice of its kind. Default 1000 ms. */
  quietMs: number;
  /** A burst is written at the latest this long after its first notice. Default 4000 ms. */
  maxMs: number;
}

export const DEFAULT_BURST: BurstOptions = { quietMs: 1000, maxMs: 4000 };

/** The line for a burst: up to three names (each bidi-isolated, with a username that differs), then "and N others". */
export function burstText(kind: BurstKind, people: Array<string | BurstPerson>): string {
  const names = people.map((p) => (typeof p === 'string' ? personLabel(p) : personLabel(p.name, p.username)));
  const verb = kind === 'joined' ? 'joined' : kind === 'left' ? 'left' : 'left (connection lost)';
  let who: string;
  if (names.length <= 1) who = names[0] ?? 'Someone';
  else if (names.length <= 3) who = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  else who = `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
  return `${who} ${verb}`;
}

/** Collects presence notices of one kind and hands each burst to write once. */
export class Bursts {
  private kind: BurstKind | null = null;
  private names: BurstPerson[] = [];
  private ts = 0;
  private quiet: ReturnType<typeof setTimeout> | null = null;
  private deadline: ReturnType<typeof setTimeout> | null = null;
  private readonly opts: BurstOptions;

  constructor(
    private readonly write: (text: string, ts: number) => void,
    opts: Partial<BurstOptions> = {},
  ) {
    this.opts = { ...DEFAULT_BURST, ...opts };
  }

  /** Someone joined or left: added to the burst of that kind (another kind's burst is written first). */
  add(kind: BurstKind, name: string, ts: number, username?: string): void {
    if (this.kind !== null && this.kind !== kind) this.flush();
    if (this.kind === null) {
      this.kind = kind;
      this.deadline = setTimeout(() => this.flush(), this.opts.maxMs);
    }
    if (!this.names.some((p) => p.name === name)) this.names.push(username === undefined ? { name } : { name, username });
    this.ts = Math.max(this.ts, ts);
    if (this.quiet !== null) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.flush(), this.opts.quietMs);
  }

  /** Writes the burst in progress, if any (before another entry goes into the log). */
  flush(): void {
    const kind = this.kind;
    const names = this.names;
    const ts = this.ts;
    this.clear();
    if (kind !== null && names.length) this.write(burstText(kind, names), ts);
  }

  /** Forgets the burst in progress without writing it (the log was emptied). */
  clear(): void {
    if (this.quiet !== null) clearTimeout(this.quiet);
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.quiet = this.deadline = null;
    this.kind = null;
    this.names = [];
    this.ts = 0;
  }
}

/** The label of the button that scrolls to what arrived below. */
export function newBelowText(n: number): string {
  return n === 1 ? '1 new message ↓' : `${n} new messages ↓`;
}
