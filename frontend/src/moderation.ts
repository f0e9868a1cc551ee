// A moderator's controls on a member (issue 24 item 3): mute for 5 minutes or
// an hour, lift the mute, kick, ban from the room, lift the ban; shown only
// when the state's roles say you are a moderator (the server decides anyway:
// anyone else's act is forbidden), and only on members whose account the page
// has learnt from a frame (joined, renamed, a message, a list read). And what
// the page says of an act: to the moderator its answer, to the account acted
// on what was done to it (a kick or ban closes its room), and a send refused
// because you are muted, with the minutes left.

import { el } from './dom';
import { Action, foldName, type ClientFrame, type ErrorFrame, type ModeratedFrame, type ServerFrame } from './protocol';

/** The ref of the page's moderation acts: their answers carry it, what the account acted on is sent does not. */
export const MODERATE_REF = 'moderate';

/** The controls, in order: the label, the act, and its minutes (a mute's). */
export const CONTROLS: ReadonlyArray<{ label: string; act: string; minutes?: number }> = [
  { label: 'Mute 5 min', act: Action.Mute, minutes: 5 },
  { label: 'Mute 1 h', act: Action.Mute, minutes: 60 },
  { label: 'Unmute', act: Action.Unmute },
  { label: 'Kick', act: Action.Kick },
  { label: 'Ban', act: Action.Ban },
  { label: 'Unban', act: Action.Unban },
];

/** Whole minutes, rounded up, at least one. */
export function minutesLeft(ms: number): number {
  return Math.max(1, Math.ceil(ms / 60_000));
}

function minutes(n: number): string {
  return n === 1 ? '1 minute' : `${n} minutes`;
}

/** What a muted person reads instead of a silent failure. */
export function mutedText(retryAfterMs: number | undefined): string {
  if (retryAfterMs === undefined) return 'You are muted in this room until a moderator lifts it.';
  return `You are muted in this room for ${minutes(minutesLeft(retryAfterMs))} more.`;
}

/** Why a message was not sent, as its place in the log says it. */
export function failureText(e: ErrorFrame | undefined): string {
  if (e?.code === 'muted') return `Not sent: ${mutedText(e.retryAfterMs)}`;
  return `Not sent: ${e?.message ?? 'the server refused it.'}`;
}

/**
 * What the page says of a moderated frame: you (the account acted on) or the
 * moderator's answer (who: the member's name); closes: your room is closed
 * by it (a kick, a ban), and the page must not reconnect.
 */
export function moderatedText(f: ModeratedFrame, you: boolean, who: string): { text: string; closes: boolean } {
  const left = f.until !== undefined ? ` for ${minutes(minutesLeft(f.until - f.ts))}` : '';
  const where = f.room === undefined ? 'the whole chat' : 'this room';
  const why = f.reason ? ` Reason: ${f.reason}` : '';
  if (you) {
    switch (f.act) {
      case Action.Mute:
        return { text: `A moderator muted you in this room${left}: your messages are not sent until then.${why}`, closes: false };
      case Action.Unmute:
        return { text: 'A moderator lifted your mute.', closes: false };
      case Action.Kick:
        return { text: `A moderator removed you from this room. You may join again.${why}`, closes: true };
      case Action.Ban:
        return { text: `A moderator banned you from ${where}${left || ' until they lift it'}.${why}`, closes: true };
      default:
        return { text: 'A moderator lifted your ban.', closes: false };
    }
  }
  const done: Record<string, string> = {
    [Action.Mute]: `You muted ${who}${left}.`,
    [Action.Unmute]: `You lifted ${who}'s mute.`,
    [Action.Kick]: `You removed ${who} from this room.`,
    [Action.Ban]: `You banned ${who} from ${where}${left || ' until you lift it'}.`,
    [Action.Unban]: `You lifted ${who}'s ban.`,
  };
  return { text: done[f.act] ?? `You moderated ${who}.`, closes: false };
}

/** The frame of a control's act on account. */
export function actFrame(act: string, account: string, minutes?: number): ClientFrame {
  return { action: act, account, ref: MODERATE_REF, ...(minutes !== undefined ? { minutes } : {}) } as ClientFrame;
}

/** The accounts of the members, as frames told them, and the controls on their rows. */
export class Moderation {
  /** The state's roles say you are a moderator. */
  moderator = false;
  /** By folded name: the member's account and name as told. */
  private readonly accounts = new Map<string, { account: string; name: string }>();

  /**
   * members gets the controls on its rows; ask sends a frame (false: not
   * connected); say puts a line in the log; leave closes the room, saying
   * why; me is your account.
   */
  constructor(
    private readonly members: { decorate?: (name: string) => HTMLElement | null; refresh(): void } | null,
    private readonly ask: (f: ClientFrame) => boolean,
    private readonly say: (text: string, kind: 'info' | 'warn') => void = () => {},
    private readonly leave: (why: string) => void = () => {},
    private readonly me: () => string | undefined = () => undefined,
  ) {
    if (members) members.decorate = (name) => this.controls(name);
  }

  /**
   * Every frame the page gets: a state's roles, the accounts frames tell
   * (the list is drawn again when one is new and you moderate), and a
   * moderated frame: your answer, or (no ref, your account) what was done
   * to you, where a kick or ban closes the room.
   */
  frame(f: ServerFrame): void {
    if (f.type === 'state') this.moderator = f.roles.includes('moderator');
    if (f.type === 'moderated') {
      const you = f.ref === undefined && f.account === this.me();
      const { text, closes } = moderatedText(f, you, this.nameOf(f.account));
      if (you && closes) this.leave(text); // before the server's close: the page does not reconnect
      else this.say(text, you ? 'warn' : 'info');
    }
    if (this.learnFrom(f) && this.moderator) this.members?.refresh();
  }

  /** name's account, as a frame told it. */
  learn(name: string, account: string | undefined): void {
    if (account) this.accounts.set(foldName(name), { account, name });
  }

  /** Learns the accounts a frame tells; true when one is new. */
  learnFrom(f: ServerFrame): boolean {
    const pairs: Array<[string, string | undefined]> = [];
    if (f.type === 'joined' || f.type === 'renamed') pairs.push([f.name, f.account]);
    else if (f.type === 'public' || f.type === 'private') pairs.push([f.from, f.account]);
    else if (f.type === 'memberPage') for (const m of f.members) pairs.push([m.name, m.account]);
    else if (f.type === 'members') for (const m of f.stayed ?? []) pairs.push([m.name, m.account]);
    else if (f.type === 'state') for (const h of f.history) pairs.push([h.from, h.account]);
    let changed = false;
    for (const [name, account] of pairs) {
      if (account && this.accounts.get(foldName(name))?.account !== account) {
        this.learn(name, account);
        changed = true;
      }
    }
    return changed;
  }

  /** The name the page knows account by, or a neutral word. */
  nameOf(account: string): string {
    for (const m of this.accounts.values()) if (m.account === account) return m.name;
    return 'them';
  }

  clear(): void {
    this.accounts.clear();
    this.moderator = false;
  }

  /** The acts a member's row offers, with the frame of each: none when you are not a moderator or its account is not known. */
  offered(name: string): Array<{ label: string; frame: ClientFrame }> {
    const account = this.accounts.get(foldName(name))?.account;
    if (!this.moderator || account === undefined) return [];
    return CONTROLS.map((c) => ({ label: c.label, frame: actFrame(c.act, account, c.minutes) }));
  }

  /** The controls for a member's row (offered); null when it offers none. */
  controls(name: string): HTMLElement | null {
    const acts = this.offered(name);
    if (acts.length === 0) return null;
    const box = el('span', { class: 'mod-controls', attrs: { role: 'group', 'aria-label': `Moderate ${name}` } });
    for (const c of acts) {
      const b = el('button', { class: 'link mod', text: c.label, attrs: { type: 'button', 'aria-label': `${c.label}: ${name}` } });
      b.dataset.act = c.frame.action;
      b.addEventListener('click', () => {
        if (!this.ask(c.frame)) this.say('Not connected: nothing was done.', 'warn');
      });
      box.append(b);
    }
    return box;
  }
}
