// The message log: messages (each shown once, by id), notices, and the
// pending bubbles of what the user sent, with their outbox state — queued,
// sending, not sent or not confirmed (with *Send again* / *Dismiss*) — until
// the server's echo turns them into the message in place. Joins and leaves
// come in bursts of one line each (bursts.ts); while the log is scrolled up,
// "N new messages ↓" says what arrived below. Your own messages can be edited
// for a while (editing.ts); an edit or a removal replaces a message in place.

import { Bursts, newBelowText, type BurstKind } from './bursts';
import type { OutboxItem } from './client';
import { byId, el, nameHue, timeEl } from './dom';
import { editable, editButton, editedMark } from './editing';
import { linkPieces, type Piece } from './links';
import { LOAD_WITHIN_PX, keptScrollTop, olderGoesAbove, shownBeforeConfirmed, type Line } from './scrollback';
import { failureText } from './moderation';
import { DEFAULT_LIMITS, type EditedFrame, type PrivateFrame, type PublicFrame, type Removal, type RemovedFrame } from './protocol';
import { AWAY_TEXT } from './attention';
import { mentionsMe } from './mentions';
import { isMine, isolate, isolatedParts, senderKey, shownUsername, type Me } from './sender';

const MAX_LOG_ENTRIES = 1000;

type Message = PublicFrame | PrivateFrame;

export interface MessageLogHooks {
  /** You: the name messages from you are shown under and, with sign-in, your account, which tells them. */
  me(): Me;
  /** Send again an item that failed or was not confirmed. */
  retry(ref: string): void;
  /** Give up on it. */
  discard(ref: string): void;
  /** "N new messages ↓" was pressed (the button goes away): where focus goes. */
  focusAfterJump?(): void;
  /** Whether you are a moderator (the state's roles: the server's word): you may remove anyone's message. */
  moderator?(): boolean;
  /** Remove a public message (yours, or as a moderator anyone's). */
  remove?(id: string): void;
  /** Edit a message of yours; false: not connected. */
  edit?(id: string, message: string): boolean;
  /** "Load older messages" was pressed. */
  older?(): void;
  /** The log let its oldest entries go (MAX_LOG_ENTRIES). */
  trimmed?(): void;
}

export class MessageLog {
  private readonly log = byId('log');
  /** Ids of the messages shown. */
  private readonly seen = new Set<string>();
  /** The messages shown, by id: a removal or an edit replaces one in place. */
  private readonly shown = new Map<string, { frame: Message; el: HTMLElement }>();
  /** The pending bubbles, by the ref of their outbox item. */
  private readonly pending = new Map<string, HTMLElement>();
  private readonly bursts = new Bursts((text, ts) => this.notice(text, ts));
  private readonly newBelow = byId<HTMLButtonElement>('new-below');
  /** Messages that arrived below while the log was scrolled up. */
  private unseen = 0;
  /** Whether the log was scrolled to its end when last looked at. */
  private pinned = true;
  /** The log's height when the ResizeObserver last saw it. */
  private height = -1;
  /** The marker at the top of the log (scrollback.ts): what is above, with a button that loads it. */
  private readonly top = el('div', { class: 'log-top', attrs: { id: 'log-top' } });
  private readonly topText = el('span', { class: 'log-top-text', attrs: { id: 'log-top-text', role: 'status', 'aria-live': 'polite' } });
  private readonly topButton = el('button', { class: 'link', text: 'Load older messages', attrs: { id: 'log-older', type: 'button' } });

  constructor(private readonly hooks: MessageLogHooks) {
    this.topButton.hidden = true;
    this.topButton.addEventListener('click', () => this.hooks.older?.());
    this.top.append(this.topText, ' ', this.topButton);
    this.log.append(this.top);
    this.log.addEventListener('scroll', () => {
      const log = this.log;
      // Scrolled to the top of a log longer than its view, the person reads
      // back (scrollback loads older messages there): never pinned to the
      // end, whatever else this frame tells, or the ResizeObserver's next
      // call would throw them to the end.
      if (log.scrollTop <= LOAD_WITHIN_PX && log.scrollHeight - log.clientHeight > LOAD_WITHIN_PX) {
        this.pinned = false;
        return;
      }
      // A scroll told in the frame the log changed size (a scroll event comes
      // before the ResizeObserver's callback) is judged by the old size, by
      // the observer: judged here, with the shrunken log, the end that was in
      // view looks scrolled away from and the log would stop following.
      if (log.clientHeight !== this.height) return;
      this.pinned = this.atBottom();
      if (this.pinned) this.setUnseen(0);
    });
    // The log shrinks when a phone's keyboard opens (or the box grows): a log
    // that was at its end stays at its end, so the last message stays in view.
    new ResizeObserver(() => {
      this.height = this.log.clientHeight;
      if (this.pinned) this.log.scrollTop = this.log.scrollHeight;
    }).observe(this.log);
    this.newBelow.addEventListener('click', () => {
      this.log.scrollTop = this.log.scrollHeight;
      this.setUnseen(0);
      this.hooks.focusAfterJump?.();
    });
  }

  clear(): void {
    this.seen.clear();
    this.shown.clear();
    this.pending.clear();
    this.bursts.clear();
    this.setUnseen(0);
    this.log.replaceChildren(this.top);
  }

  /** The log's scrolled element. */
  get element(): HTMLElement {
    return this.log;
  }

  /** The marker at the top: what is above (empty: nothing said), and whether its button loads it. */
  setTop(text: string, button: boolean): void {
    if (this.topText.textContent !== text) this.topText.textContent = text;
    this.topButton.hidden = !button;
    this.top.hidden = text === '';
  }

  /**
   * Older messages (a page of scrollback), each put where its time puts it
   * (show); the first message in view stays at the same pixel offset from
   * the log's top, however much went in above it.
   */
  insertOlder(messages: Message[]): void {
    const log = this.log;
    const edge = log.getBoundingClientRect().top;
    let anchor: Element | null = null;
    for (let e = this.top.nextElementSibling; e; e = e.nextElementSibling) {
      if (e.getBoundingClientRect().bottom > edge) {
        anchor = e;
        break;
      }
    }
    const before = anchor ? anchor.getBoundingClientRect().top - edge : 0;
    for (const m of messages) this.show(m, true);
    if (anchor) log.scrollTop = keptScrollTop(log.scrollTop, before, anchor.getBoundingClientRect().top - edge);
  }

  /** The "new since you were away" divider, above the message of that id (attention.ts); one at a time. */
  newSince(id: string): void {
    this.log.querySelector('.away-divider')?.remove();
    const first = this.log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
    first?.before(el('p', { class: 'away-divider', attrs: { id: 'away-divider' } }, el('span', { text: AWAY_TEXT })));
  }

  /** Someone joined or left: one line per burst of them. */
  presence(kind: BurstKind, name: string, ts: number, username?: string): void {
    this.bursts.add(kind, name, ts, username);
  }

  /** A message from the server: a new one, or the echo of a pending bubble (older: one of a page of scrollback). */
  show(f: Message, older = false): void {
    if (this.seen.has(f.id)) {
      // A history read again (the settle hello, a reconnect) may carry a
      // removal whose frame this page missed.
      if (f.type === 'public' && f.removed) this.removed({ id: f.id, ...f.removed });
      else if (f.edited !== undefined) this.edited({ id: f.id, message: f.message, edited: f.edited, ...(f.type === 'public' && f.mentions ? { mentions: f.mentions } : {}) });
      return;
    }
    const bubble = f.ref !== undefined ? this.pending.get(f.ref) : undefined;
    if (bubble && f.ref !== undefined) {
      this.pending.delete(f.ref);
      this.confirm(bubble, f);
      return;
    }
    this.seen.add(f.id);
    const node = this.messageEl(f);
    // A message this page first reads in a history (the settle hello's, or
    // a reconnect's: its live frame went to an index that did not list this
    // connection yet) goes where its time puts it, not after later ones.
    const later = this.firstLaterThan(f.ts, f.id, older);
    if (later) {
      if (older) {
        later.before(node);
        return;
      }
      this.bursts.flush();
      const atBottom = this.atBottom();
      later.before(node);
      // Two messages sent at once may be stored, and arrive, newest first:
      // the other goes above it, and is as new. At the end, the log stays
      // there; scrolled up, one that went below the view is counted.
      if (atBottom) this.log.scrollTop = this.log.scrollHeight;
      else if (node.getBoundingClientRect().top >= this.log.getBoundingClientRect().bottom) this.setUnseen(this.unseen + 1);
      return;
    }
    if (older) {
      this.log.append(node);
      return;
    }
    this.append(node, isMine(f, this.hooks.me()));
  }

  /**
   * The earliest of the messages shown at the log's end that are later than
   * ts (pending bubbles aside), if any. An older message (scrollback) is
   * looked for from the top, by time then id (the record's order): it
   * belongs there.
   */
  private firstLaterThan(ts: number, id: string, older = false): Element | undefined {
    const when = (e: Element): { at: number; id: string | undefined } | undefined =>
      e instanceof HTMLElement && e.dataset.ts !== undefined && !e.classList.contains('pending')
        ? { at: Number(e.dataset.ts), id: e.dataset.id }
        : undefined;
    if (older) {
      for (let e = this.top.nextElementSibling; e; e = e.nextElementSibling) {
        if (!olderGoesAbove(lineOf(e), ts, id)) continue;
        // Never between "new since you were away" and the message it is above.
        const prev = e.previousElementSibling;
        return prev?.classList.contains('away-divider') ? prev : e;
      }
      return undefined;
    }
    let first: Element | undefined;
    for (let e = this.log.lastElementChild; e; e = e.previousElementSibling) {
      const w = when(e);
      if (!w) continue;
      // By time alone: a live message of the same millisecond as one shown
      // goes after it, where it is counted as new (a tie broken by id put
      // the second of two quick messages above the first, uncounted).
      if (w.at <= ts) break;
      first = e;
    }
    return first;
  }

  /** A public message was removed (a removed frame, or a history entry's removal): shown in its place. */
  removed(r: Pick<RemovedFrame, 'id' | 'by' | 'reason' | 'at'>): void {
    const m = this.shown.get(r.id);
    if (!m || m.frame.type !== 'public' || m.frame.removed) return;
    const frame: PublicFrame = { ...m.frame, message: '', removed: { by: r.by, at: r.at, ...(r.reason !== undefined ? { reason: r.reason } : {}) } };
    delete frame.edited;
    this.replace(m.el, this.messageEl(frame));
  }

  /** A message was edited (an edited frame, or a history entry's newer text): the text now, marked edited, and a public message's marks as the new text resolved (a mention added highlights it, one taken out no longer). An older edit than the one shown changes nothing. Returns the message as it was, if this edit changed it. */
  edited(e: Pick<EditedFrame, 'id' | 'message' | 'edited' | 'mentions'>): Message | undefined {
    const m = this.shown.get(e.id);
    if (!m || (m.frame.type === 'public' && m.frame.removed) || (m.frame.edited ?? 0) >= e.edited) return undefined;
    const frame = { ...m.frame, message: e.message, edited: e.edited };
    if (frame.type === 'public') {
      if (e.mentions) frame.mentions = e.mentions;
      else delete frame.mentions;
    }
    this.replace(m.el, this.messageEl(frame));
    return m.frame; // as it was
  }

  /** Puts a message's new element in the old one's place; focus in the old one goes to the new one's Edit button, or the message. */
  private replace(old: HTMLElement, e: HTMLElement): void {
    const focused = old.contains(document.activeElement);
    old.replaceWith(e);
    if (focused) (e.querySelector<HTMLElement>('button.edit') ?? e).focus();
  }

  notice(text: string, ts: number, kind: 'info' | 'warn' = 'info'): void {
    this.bursts.flush();
    // Its time (data-at, not data-ts: live messages are placed among messages only) places scrollback above it.
    this.append(el('p', { class: `notice ${kind}`, attrs: { 'data-at': String(ts) } }, el('span', {}, ...isolated(text)), ' ', timeEl(ts)), false);
  }

  /** Shows what the user just sent, as pending, until the outbox says more. */
  addPending(ref: string, draft: { room: string; message: string; to: string[] }): void {
    const { room, message, to } = draft;
    const me = this.hooks.me();
    const from = me.name;
    const account = me.account !== undefined ? { account: me.account, ...(me.username !== undefined ? { username: me.username } : {}) } : {};
    const bubble = this.messageEl(
      to.length
        ? { type: 'private', id: '', ts: Date.now(), room, from, to, message, ...account }
        : { type: 'public', id: '', ts: Date.now(), room, from, message, ...account },
    );
    bubble.classList.add('pending');
    bubble.dataset.ref = ref;
    this.pending.set(ref, bubble);
    this.append(bubble, true);
  }

  /** An outbox item of a message changed state. */
  outbox(item: OutboxItem): void {
    const e = this.pending.get(item.ref);
    if (!e) return;
    delete e.dataset.retryAt;
    switch (item.state) {
      case 'queued':
        if (item.retryAt !== undefined) this.countdown(e, item.retryAt);
        else this.setStatus(e, 'Queued — sent when the connection is back', 'queued');
        break;
      case 'sent':
        this.setStatus(e, 'Sending…', 'sending');
        break;
      case 'unconfirmed':
        this.setStatus(e, 'Not confirmed: the connection dropped before the server answered. It may not have been sent.', 'failed', item.ref);
        break;
      case 'failed':
        this.setStatus(e, failureText(item.error), 'failed', item.ref);
        break;
      case 'done':
        this.pending.delete(item.ref);
        if (item.echo && (item.echo.type === 'public' || item.echo.type === 'private')) this.confirm(e, item.echo);
        else e.remove();
        break;
    }
  }

  /**
   * The server answered rate_limited: the message says it sends itself, and
   * the seconds until then tick in an aria-hidden span (read out once, not
   * every second), until its state changes.
   */
  private countdown(e: HTMLElement, at: number): void {
    this.setStatus(e, 'Too many messages at once: it sends itself when allowed, in', 'queued');
    const secs = el('span', { class: 'msg-secs', attrs: { 'aria-hidden': 'true' } });
    e.querySelector('.msg-status')?.append(' ', secs);
    e.dataset.retryAt = String(at);
    const tick = () => (secs.textContent = `${Math.max(0, Math.ceil((at - Date.now()) / 1000))} s`);
    tick();
    const timer = setInterval(() => {
      if (e.dataset.retryAt !== String(at) || !e.isConnected) clearInterval(timer);
      else tick();
    }, 1000);
  }

  /** The user left the room: what is still pending was not sent. */
  abandon(items: OutboxItem[]): void {
    for (const item of items) {
      const e = this.pending.get(item.ref);
      if (e) this.setStatus(e, 'Not sent: you left the room.', 'failed');
    }
    this.pending.clear();
  }

  private setStatus(e: HTMLElement, text: string, kind: string, retryRef?: string): void {
    let status = e.querySelector<HTMLElement>('.msg-status');
    if (!status) {
      status = el('div', { class: 'msg-status' });
      e.append(status);
    }
    status.dataset.kind = kind;
    status.replaceChildren(el('span', { text }));
    status.setAttribute('role', kind === 'failed' ? 'alert' : 'status');
    if (retryRef) {
      const again = el('button', { class: 'link', text: 'Send again', attrs: { type: 'button' } });
      again.addEventListener('click', () => this.hooks.retry(retryRef));
      const drop = el('button', { class: 'link', text: 'Dismiss', attrs: { type: 'button' } });
      drop.addEventListener('click', () => {
        this.hooks.discard(retryRef);
        e.remove();
        this.pending.delete(retryRef);
      });
      status.append(' ', again, ' ', drop);
    }
  }

  /** Turns a pending bubble into the message the server confirmed, in place. */
  private confirm(bubble: HTMLElement, f: Message): void {
    if (this.seen.has(f.id)) {
      bubble.remove();
      return;
    }
    this.seen.add(f.id);
    const node = this.messageEl(f);
    bubble.replaceWith(node);
    for (let e = node.nextElementSibling; e; ) {
      const next = e.nextElementSibling;
      if (shownBeforeConfirmed(lineOf(e), f.ts, f.id)) node.before(e);
      e = next;
    }
  }

  private messageEl(f: Message): HTMLElement {
    const me = this.hooks.me();
    const mine = isMine(f, me);
    // <bdi> and dir="auto": a name or a message written right to left, or
    // with an override (U+202E) left open, turns nothing around it.
    const username = shownUsername(f);
    const from = el(
      'span',
      { class: 'from' },
      el('bdi', { text: f.from }),
      username !== undefined ? el('span', { class: 'username' }, ' (@', el('bdi', { text: username }), ')') : null,
      mine ? ' (you)' : null,
    );
    from.style.setProperty('--hue', String(nameHue(senderKey(f))));
    const head = el('div', { class: 'msg-head' }, from);
    if (f.type === 'private') {
      head.append(el('span', { class: 'badge', text: 'private' }));
      head.append(el('span', { class: 'to' }, ...isolated(`to ${f.to.map((n) => (n === me.name ? 'you' : isolate(n))).join(', ')}`)));
    }
    head.append(timeEl(f.ts));
    if (f.edited !== undefined) head.append(' ', editedMark(f.edited));
    const removed = f.type === 'public' ? f.removed : undefined;
    const body = removed
      ? el('p', { class: 'removal', text: removalText(removed, mine) })
      : el('p', { class: 'text', attrs: { dir: 'auto' } }, ...linkPieces(f.message).map(pieceEl));
    if (f.type === 'public' && f.id && !removed && (mine || this.hooks.moderator?.())) {
      const remove = this.hooks.remove;
      const button = el('button', { class: 'link remove', text: 'Remove', attrs: { type: 'button', 'aria-label': `Remove this message${mine ? '' : ` from ${f.from}`}` } });
      button.addEventListener('click', () => remove?.(f.id));
      head.append(' ', button);
    }
    // The server's mark, never the text's: a mention of you is highlighted and says so.
    const mention = f.id !== '' && !mine && mentionsMe(f, me);
    if (mention) head.firstElementChild?.after(el('span', { class: 'badge mention-badge', text: 'mentions you' }));
    const article = el('article', { class: `msg ${f.type}${mine ? ' mine' : ''}${removed ? ' removed' : ''}${mention ? ' mention' : ''}`, attrs: { tabindex: '-1' } }, head, body);
    const edit = this.hooks.edit;
    if (mine && f.id && !removed && edit && editable(f.ts)) {
      const say = (text: string) => this.notice(text, Date.now(), 'warn');
      head.append(' ', editButton({ id: f.id, ts: f.ts, message: f.message, body, max: DEFAULT_LIMITS.messageMax, send: edit, say }));
    }
    if (f.id) {
      article.dataset.id = f.id;
      article.dataset.ts = String(f.ts);
    }
    if (f.id) this.shown.set(f.id, { frame: f, el: article });
    return article;
  }

  private atBottom(): boolean {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  private setUnseen(n: number): void {
    this.unseen = n;
    this.newBelow.hidden = n === 0;
    if (n > 0) this.newBelow.textContent = newBelowText(n);
  }

  private append(node: HTMLElement, force: boolean): void {
    if (!node.classList.contains('notice')) this.bursts.flush();
    const log = this.log;
    const atBottom = this.atBottom();
    log.append(node);
    // A long session keeps the page light: the oldest entries go first (the
    // marker at the top stays, and says so).
    if (log.childElementCount > MAX_LOG_ENTRIES + 1) {
      while (log.childElementCount > MAX_LOG_ENTRIES + 1) this.top.nextElementSibling?.remove();
      this.hooks.trimmed?.();
    }
    if (atBottom || force) {
      log.scrollTop = log.scrollHeight;
      this.pinned = true;
      this.setUnseen(0);
    } else if (node.classList.contains('msg')) {
      this.setUnseen(this.unseen + 1);
    }
  }
}

/** A line of the log as scrollback places older messages among them (scrollback.ts, olderGoesAbove). */
function lineOf(e: Element): Line {
  if (!(e instanceof HTMLElement) || e.classList.contains('pending')) return { kind: 'other' };
  if (e.dataset.ts !== undefined) return { kind: 'message', ts: Number(e.dataset.ts), id: e.dataset.id };
  if (e.dataset.at !== undefined) return { kind: 'notice', ts: Number(e.dataset.at) };
  return { kind: 'other' };
}

/** A piece of a message's text: a text node, or a link that opens in a new tab and tells the other site nothing. */
function pieceEl(p: Piece): Node | string {
  if (!('href' in p)) return p.text;
  return el('a', { text: p.text, attrs: { href: p.href, target: '_blank', rel: 'noopener noreferrer', dir: 'ltr' } });
}

/** What a removed message shows in its place. */
export function removalText(r: Removal, mine: boolean): string {
  const who = r.by === 'moderator' ? 'Message removed by a moderator' : mine ? 'You removed this message' : 'Message removed by its sender';
  return r.reason ? `${who}: ${r.reason}` : `${who}.`;
}

/** Text whose isolated names (sender.ts, isolate) become <bdi> elements: the same isolation, without the marks in the text. */
function isolated(text: string): Array<string | HTMLElement> {
  return isolatedParts(text).map((p) => (p.isolated ? el('bdi', { text: p.text }) : p.text));
}
