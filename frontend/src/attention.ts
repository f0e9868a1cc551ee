// While the page is hidden (another tab, a minimised window): the tab's title
// counts the messages that arrived, a mention of you or a private message to
// you raises a browser notification — only once you turned notifications on
// with the page's control, which is when the browser asks; never on load —
// and coming back shows a "new since you were away" divider above the first
// of them (issue 26 #3).

import { byId } from './dom';
import { mentionsMe } from './mentions';
import type { EditedFrame, PrivateFrame, PublicFrame } from './protocol';
import { isMine, type Me } from './sender';

type Message = PublicFrame | PrivateFrame;

/** What the divider says. */
export const AWAY_TEXT = 'New since you were away';
const STORED = 'groupchat.notify';

/** What arrived while the page was hidden (no DOM: the unit tests drive it). */
export class Away {
  private unread = 0;
  private first = '';
  /** The ids counted since the page was hidden: a message delivered twice (a retried fan-out shard) counts once. */
  private readonly counted = new Set<string>();

  constructor(private readonly base: string) {}

  /** A live message arrived while hidden: what to do about it. */
  arrived(f: Message, me: Me): { title: string; notify: string | null } | null {
    if (isMine(f, me) || this.counted.has(f.id)) return null;
    this.counted.add(f.id);
    if (this.unread++ === 0) this.first = f.id;
    const why = f.type === 'private' ? `Private message from ${f.from}` : mentionsMe(f, me) ? `${f.from} mentioned you` : null;
    return { title: this.title(), notify: why };
  }

  /**
   * A message shown (before: as it was; none when this page never showed it) was edited while hidden: the
   * notification to ask for when the edit added a mention of you (by the server's marks), none when it kept one
   * (notified or seen already), named someone else, or is yours. Not counted in the title: no new message arrived.
   */
  edited(before: Message | undefined, e: Pick<EditedFrame, 'id' | 'message' | 'mentions'>, me: Me): string | null {
    if (!before || before.type !== 'public' || isMine(before, me) || mentionsMe(before, me)) return null;
    const after: PublicFrame = { ...before, message: e.message, ...(e.mentions ? { mentions: e.mentions } : { mentions: [] }) };
    return mentionsMe(after, me) ? `${before.from} mentioned you` : null;
  }

  /** The page is shown again: the message the divider goes above (none when nothing arrived), and the title back. */
  back(): { dividerAbove: string | null; title: string } {
    const above = this.unread > 0 ? this.first : null;
    this.unread = 0;
    this.first = '';
    this.counted.clear();
    return { dividerAbove: above, title: this.base };
  }

  title(): string {
    return this.unread > 0 ? `(${this.unread}) ${this.base}` : this.base;
  }
}

/** The page's side: visibility, the title, the notification control and the notifications. */
export class Attention {
  private readonly away: Away;
  private readonly button = byId<HTMLButtonElement>('notify');
  private readonly note = byId('notify-note');
  private on = false;

  constructor(
    private readonly me: () => Me,
    private readonly divider: (aboveId: string) => void,
    private readonly doc: Document = document,
    private readonly win: Window & typeof globalThis = window,
  ) {
    this.away = new Away(doc.title);
    doc.addEventListener('visibilitychange', () => {
      if (doc.visibilityState !== 'visible') return;
      const { dividerAbove, title } = this.away.back();
      doc.title = title;
      if (dividerAbove !== null) this.divider(dividerAbove);
    });
    const N = win.Notification;
    if (N === undefined) return; // the control stays hidden: nothing to turn on
    this.button.hidden = false;
    // Remembered only as a wish: it takes effect without asking when the browser granted it already.
    this.set(stored(win) && N.permission === 'granted');
    this.button.addEventListener('click', () => void this.toggle());
  }

  /** A live message (not one read back from a history). */
  arrived(f: Message): void {
    if (this.doc.visibilityState === 'visible') return;
    const r = this.away.arrived(f, this.me());
    if (!r) return;
    this.doc.title = r.title;
    if (r.notify !== null) this.notify(r.notify, f.message, f.id);
  }

  /** A live edited frame, with the message as this page showed it before (none: never shown). */
  edited(before: Message | undefined, e: EditedFrame): void {
    if (this.doc.visibilityState === 'visible') return;
    const why = this.away.edited(before, e, this.me());
    if (why !== null) this.notify(why, e.message, e.id);
  }

  private notify(title: string, body: string, tag: string): void {
    if (!this.on || this.win.Notification?.permission !== 'granted') return;
    const n = new this.win.Notification(title, { body, tag });
    n.onclick = () => this.win.focus();
  }

  private async toggle(): Promise<void> {
    const N = this.win.Notification;
    if (this.on) return this.set(false, '');
    const permission = N.permission === 'default' ? await N.requestPermission() : N.permission;
    if (permission === 'granted') this.set(true, 'You are notified of mentions and private messages while this tab is hidden.');
    else this.set(false, 'Notifications are blocked for this page in the browser’s settings.');
  }

  /** On or off; note (a choice of the person's, said and remembered) or none (the page loading). */
  private set(on: boolean, note?: string): void {
    this.on = on;
    this.button.textContent = on ? 'Turn off notifications' : 'Turn on notifications';
    if (note === undefined) return;
    this.note.textContent = note;
    try {
      this.win.localStorage.setItem(STORED, on ? '1' : '0');
    } catch {
      // Storage refused (private mode): the choice lasts this page only.
    }
  }
}

function stored(win: Window): boolean {
  try {
    return win.localStorage.getItem(STORED) === '1';
  } catch {
    return false;
  }
}
