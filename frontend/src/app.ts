// The chat page: the join form, the member list, the message log and the
// composer, driven by ChatClient's events. State the page shows lives here;
// the connection's state lives in the client.

import { ChatClient, type OutboxItem, type SocketFactory, type Status } from './client';
import type { ConfigSource } from './config';
import { connStatusText } from './connstatus';
import { byId, el, nameHue, timeEl } from './dom';
import {
  codePoints,
  DEFAULT_LIMITS,
  foldName,
  normalizeRoom,
  sortNames,
  type ErrorFrame,
  type Limits,
  type PrivateFrame,
  type PublicFrame,
  type ServerFrame,
  type StateFrame,
  type Warning,
} from './protocol';
import { watchWake } from './wake';

export interface AppOptions {
  wsUrl: string;
  /** Where wsUrl came from; the status says so while the first connection fails. */
  wsSource?: ConfigSource;
  socket?: SocketFactory;
  pingIntervalMs?: number;
  backoffInitialMs?: number;
}

const STORAGE_KEY = 'groupchat.join';
const MAX_LOG_ENTRIES = 1000;

export class ChatApp {
  private client: ChatClient | null = null;
  private you = '';
  private room = '';
  private members: string[] = [];
  /** Chosen private recipients, keyed by folded name. */
  private selected = new Map<string, string>();
  private limits: Limits = { ...DEFAULT_LIMITS };
  private seen = new Set<string>();
  private pendingEls = new Map<string, HTMLElement>();
  private everReady = false;
  private countdown: ReturnType<typeof setInterval> | null = null;

  private readonly ui = {
    joinView: byId('join'),
    joinForm: byId<HTMLFormElement>('join-form'),
    joinName: byId<HTMLInputElement>('join-name'),
    joinRoom: byId<HTMLInputElement>('join-room'),
    joinError: byId('join-error'),
    chatView: byId('chat'),
    roomLabel: byId('room-label'),
    conn: byId('conn'),
    connMsg: byId('conn-msg'),
    connSecs: byId('conn-secs'),
    retryNow: byId<HTMLButtonElement>('retry-now'),
    myName: byId('my-name'),
    nameForm: byId<HTMLFormElement>('name-form'),
    nameInput: byId<HTMLInputElement>('name-input'),
    nameEdit: byId<HTMLButtonElement>('name-edit'),
    nameSave: byId<HTMLButtonElement>('name-save'),
    nameCancel: byId<HTMLButtonElement>('name-cancel'),
    nameError: byId('name-error'),
    leave: byId<HTMLButtonElement>('leave'),
    memberList: byId<HTMLUListElement>('members'),
    memberCount: byId('member-count'),
    log: byId('log'),
    composer: byId<HTMLFormElement>('composer'),
    toText: byId('to-text'),
    toClear: byId<HTMLButtonElement>('to-clear'),
    message: byId<HTMLTextAreaElement>('message'),
    counter: byId('counter'),
    sendError: byId('send-error'),
  };

  constructor(private readonly opts: AppOptions) {
    this.prefillJoin();
    this.wire();
    this.updateCounter();
  }

  // ---- wiring ----------------------------------------------------------------

  private wire(): void {
    const ui = this.ui;
    ui.joinForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.join();
    });
    ui.retryNow.addEventListener('click', () => this.client?.reconnectNow());
    watchWake(window, document, () => this.client);

    ui.nameEdit.addEventListener('click', () => this.editName(true));
    ui.nameCancel.addEventListener('click', () => this.editName(false));
    ui.nameInput.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.editName(false);
    });
    ui.nameForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.rename();
    });
    ui.leave.addEventListener('click', () => this.leaveRoom());

    ui.memberList.addEventListener('change', (e) => {
      const box = e.target as HTMLInputElement;
      const name = box.dataset.name;
      if (name === undefined) return;
      if (box.checked) this.selected.set(foldName(name), name);
      else this.selected.delete(foldName(name));
      this.renderRecipients();
    });
    ui.toClear.addEventListener('click', () => {
      this.selected.clear();
      this.renderMembers();
      this.renderRecipients();
      ui.message.focus();
    });

    ui.message.addEventListener('input', () => this.updateCounter());
    ui.message.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendMessage();
      }
    });
    ui.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendMessage();
    });
  }

  private prefillJoin(): void {
    const q = new URL(window.location.href).searchParams;
    let saved: { name?: string; room?: string } = {};
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') ?? {};
    } catch {
      // Private mode or a corrupt entry: start empty.
    }
    this.ui.joinName.value = q.get('name') ?? saved.name ?? '';
    this.ui.joinRoom.value = q.get('room') ?? saved.room ?? 'lobby';
    this.ui.joinName.focus();
  }

  // ---- joining and leaving ---------------------------------------------------

  private join(): void {
    const name = this.ui.joinName.value.trim();
    const room = normalizeRoom(this.ui.joinRoom.value);
    if (room === null) {
      this.ui.joinError.textContent =
        'A room name is 1–32 letters a–z, digits, "_" or "-", starting with a letter or digit.';
      this.ui.joinRoom.focus();
      return;
    }
    this.ui.joinError.textContent = '';
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ name, room }));
    } catch {
      // Not remembering is fine.
    }
    this.reset();
    this.room = room;
    this.you = name;
    this.ui.roomLabel.textContent = `#${room}`;
    this.ui.roomLabel.hidden = false;
    this.ui.myName.textContent = name || 'a guest';
    this.ui.joinView.hidden = true;
    this.ui.chatView.hidden = false;
    this.client = new ChatClient(
      {
        url: this.opts.wsUrl,
        name,
        room,
        socket: this.opts.socket,
        pingIntervalMs: this.opts.pingIntervalMs,
        backoff: this.opts.backoffInitialMs ? { initialMs: this.opts.backoffInitialMs } : undefined,
      },
      {
        frame: (f) => this.onFrame(f),
        status: (s) => this.onStatus(s),
        outbox: (i) => this.onOutbox(i),
        warning: (w) => this.onWarning(w),
        invalid: (reason) => console.warn('ignored a frame from the server:', reason),
      },
    );
    this.client.start();
    this.ui.message.focus();
  }

  private leaveRoom(): void {
    const client = this.client;
    this.client = null;
    client?.stop();
    for (const item of client?.pending() ?? []) {
      const e = this.pendingEls.get(item.ref);
      if (e) this.setPendingStatus(e, 'Not sent: you left the room.', 'failed');
    }
    this.pendingEls.clear();
    this.onStatus({ state: 'stopped', attempt: 0 });
    this.ui.chatView.hidden = true;
    this.ui.joinView.hidden = false;
    this.ui.roomLabel.hidden = true;
    this.ui.joinName.value = this.you;
    this.ui.joinName.focus();
  }

  private reset(): void {
    this.members = [];
    this.selected.clear();
    this.seen.clear();
    this.pendingEls.clear();
    this.everReady = false;
    this.ui.log.replaceChildren();
    this.ui.nameError.textContent = '';
    this.ui.sendError.textContent = '';
    this.editName(false);
    this.renderMembers();
    this.renderRecipients();
  }

  // ---- connection status -----------------------------------------------------

  private onStatus(s: Status): void {
    const ui = this.ui;
    ui.conn.dataset.state = s.state;
    ui.retryNow.hidden = s.state !== 'waiting';
    if (this.countdown !== null) clearInterval(this.countdown);
    this.countdown = null;
    // Only the state's text is announced (#conn is a live region); the seconds
    // tick in an aria-hidden span, or screen readers would read every one.
    const view = () =>
      connStatusText(s, { room: this.room, everReady: this.everReady, now: Date.now(), source: this.opts.wsSource });
    const first = view();
    // Rewriting the same text could be read out again.
    if (ui.connMsg.textContent !== first.text) ui.connMsg.textContent = first.text;
    ui.connSecs.textContent = first.ticking;
    if (s.state === 'waiting') {
      this.countdown = setInterval(() => (ui.connSecs.textContent = view().ticking), 1000);
    }
    if (s.state === 'ready') {
      if (this.everReady) this.notice('Reconnected.', Date.now(), 'info');
      this.everReady = true;
    } else if (s.state === 'waiting' && s.attempt === 1 && this.everReady) {
      this.notice('Connection lost. Messages you send now are queued until it is back.', Date.now(), 'warn');
    }
  }

  // ---- frames ------------------------------------------------------------------

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'state':
        this.onState(f);
        break;
      case 'joined':
        this.setMembers([...this.members.filter((m) => foldName(m) !== foldName(f.name)), f.name]);
        this.notice(`${f.name} joined`, f.ts);
        break;
      case 'left':
        this.setMembers(this.members.filter((m) => m !== f.name));
        this.notice(`${f.name} left`, f.ts);
        break;
      case 'members':
        this.setMembers(f.members);
        for (const g of f.gone) this.notice(`${g} left (connection lost)`, f.ts);
        break;
      case 'renamed':
        if (f.oldName === f.name) break;
        if (f.oldName === this.you) {
          this.you = f.name;
          this.ui.myName.textContent = f.name;
          this.ui.nameError.textContent = '';
          this.notice(`You are now ${f.name}`, f.ts);
        } else {
          this.notice(`${f.oldName} is now ${f.name}`, f.ts);
        }
        if (this.selected.delete(foldName(f.oldName))) this.selected.set(foldName(f.name), f.name);
        this.setMembers(this.members.map((m) => (m === f.oldName ? f.name : m)));
        this.renderRecipients();
        break;
      case 'public':
      case 'private':
        this.showMessage(f);
        break;
      case 'error':
        this.onError(f);
        break;
      case 'pong':
        break;
    }
  }

  private onState(f: StateFrame): void {
    this.you = f.you;
    this.room = f.room;
    this.limits = f.limits;
    this.ui.myName.textContent = f.you;
    this.ui.roomLabel.textContent = `#${f.room}`;
    this.ui.nameInput.maxLength = f.limits.nameMax;
    this.setMembers(f.members);
    for (const h of f.history) this.showMessage(h);
    this.updateCounter();
  }

  /** A new warning about the name (the client leaves out repeats after a reconnect). */
  private onWarning(w: Warning): void {
    this.ui.nameError.textContent = w.message;
    this.notice(w.message, Date.now(), 'warn');
  }

  private onError(f: ErrorFrame): void {
    // Errors with a ref are shown by onOutbox next to what caused them.
    if (f.ref !== undefined && this.client?.pending().some((i) => i.ref === f.ref)) return;
    if (f.action === 'setName') this.ui.nameError.textContent = f.message;
    else if (f.action === 'sendPublic' || f.action === 'sendPrivate') this.ui.sendError.textContent = f.message;
    else this.notice(f.message, Date.now(), 'warn');
  }

  // ---- members -------------------------------------------------------------------

  private setMembers(names: string[]): void {
    this.members = sortNames(new Set(names));
    const present = new Set(this.members.map(foldName));
    for (const k of [...this.selected.keys()]) if (!present.has(k)) this.selected.delete(k);
    this.renderMembers();
    this.renderRecipients();
  }

  private renderMembers(): void {
    const items = this.members.map((name) => {
      const isYou = name === this.you;
      const label = el('label', { class: 'member-label' });
      if (!isYou) {
        const box = el('input', { attrs: { type: 'checkbox', 'aria-label': `Message ${name} privately` } });
        box.dataset.name = name;
        box.checked = this.selected.has(foldName(name));
        label.append(box);
      } else {
        label.append(el('span', { class: 'box-spacer', attrs: { 'aria-hidden': 'true' } }));
      }
      const nameEl = el('span', { class: 'member-name', text: name });
      nameEl.style.setProperty('--hue', String(nameHue(name)));
      label.append(nameEl);
      if (isYou) label.append(el('span', { class: 'you-tag', text: 'you' }));
      const li = el('li', { class: isYou ? 'member is-you' : 'member' }, label);
      li.dataset.name = name;
      return li;
    });
    this.ui.memberList.replaceChildren(...items);
    this.ui.memberCount.textContent = this.members.length ? String(this.members.length) : '';
  }

  private renderRecipients(): void {
    const to = [...this.selected.values()];
    this.ui.toText.textContent = to.length ? `Privately to ${to.join(', ')}` : 'To everyone';
    this.ui.toText.classList.toggle('private', to.length > 0);
    this.ui.toClear.hidden = to.length === 0;
    this.ui.composer.classList.toggle('private', to.length > 0);
  }

  // ---- names -----------------------------------------------------------------------

  private editName(on: boolean): void {
    const ui = this.ui;
    ui.nameInput.hidden = !on;
    ui.nameSave.hidden = !on;
    ui.nameCancel.hidden = !on;
    ui.nameEdit.hidden = on;
    ui.myName.hidden = on;
    if (on) {
      ui.nameInput.value = this.you;
      ui.nameInput.focus();
      ui.nameInput.select();
    }
  }

  private rename(): void {
    const name = this.ui.nameInput.value.trim();
    if (!name) {
      this.ui.nameError.textContent = 'A name needs at least one character.';
      return;
    }
    if (codePoints(name) > this.limits.nameMax || new TextEncoder().encode(name).length > this.limits.nameMaxBytes) {
      this.ui.nameError.textContent = `A name has at most ${this.limits.nameMax} characters (${this.limits.nameMaxBytes} bytes).`;
      return;
    }
    this.ui.nameError.textContent = '';
    this.client?.send({ action: 'setName', name });
    this.editName(false);
    this.ui.message.focus();
  }

  // ---- messages ----------------------------------------------------------------------

  private updateCounter(): void {
    const n = codePoints(this.ui.message.value);
    const max = this.limits.messageMax;
    this.ui.counter.textContent = `${n} / ${max}`;
    this.ui.counter.classList.toggle('over', n > max);
  }

  private sendMessage(): void {
    const client = this.client;
    if (!client) return;
    const message = this.ui.message.value;
    if (!message.trim()) return;
    const n = codePoints(message);
    if (n > this.limits.messageMax) {
      this.ui.sendError.textContent = `That is ${n} characters; a message has at most ${this.limits.messageMax}.`;
      return;
    }
    const to = [...this.selected.values()];
    if (to.length > this.limits.recipientsMax) {
      this.ui.sendError.textContent = `A private message goes to at most ${this.limits.recipientsMax} people.`;
      return;
    }
    this.ui.sendError.textContent = '';
    const item = client.send(
      to.length ? { action: 'sendPrivate', to, message } : { action: 'sendPublic', message },
    );
    // The item may already be settled if the echo raced us; only show it when pending.
    if (client.pending().some((i) => i.ref === item.ref)) {
      const pending = this.messageEl(
        to.length
          ? { type: 'private', id: '', ts: Date.now(), room: this.room, from: this.you, to, message }
          : { type: 'public', id: '', ts: Date.now(), room: this.room, from: this.you, message },
      );
      pending.classList.add('pending');
      pending.dataset.ref = item.ref;
      this.pendingEls.set(item.ref, pending);
      this.append(pending, true);
      this.onOutbox(client.pending().find((i) => i.ref === item.ref) ?? item);
    }
    this.ui.message.value = '';
    this.updateCounter();
    this.ui.message.focus();
  }

  private onOutbox(item: OutboxItem): void {
    if (item.frame.action === 'setName') {
      if (item.state === 'failed') this.ui.nameError.textContent = item.error?.message ?? 'The name was refused.';
      else if (item.state === 'queued') this.ui.nameError.textContent = 'Not connected: the new name is sent when the connection is back.';
      else if (item.state === 'unconfirmed') {
        this.ui.nameError.textContent = 'The connection dropped before the server answered; try the new name again.';
        this.client?.discard(item.ref);
      } else if (item.state === 'done' && item.echo) this.ui.nameError.textContent = '';
      if (item.state === 'failed') this.client?.discard(item.ref);
      return;
    }
    const e = this.pendingEls.get(item.ref);
    if (!e) return;
    switch (item.state) {
      case 'queued':
        this.setPendingStatus(e, 'Queued — sent when the connection is back', 'queued');
        break;
      case 'sent':
        this.setPendingStatus(e, 'Sending…', 'sending');
        break;
      case 'unconfirmed':
        this.setPendingStatus(e, 'Not confirmed: the connection dropped before the server answered. It may not have been sent.', 'failed', item.ref);
        break;
      case 'failed':
        this.setPendingStatus(e, `Not sent: ${item.error?.message ?? 'the server refused it.'}`, 'failed', item.ref);
        break;
      case 'done':
        this.pendingEls.delete(item.ref);
        if (item.echo && (item.echo.type === 'public' || item.echo.type === 'private')) this.confirm(e, item.echo);
        else e.remove();
        break;
    }
  }

  private setPendingStatus(e: HTMLElement, text: string, kind: string, retryRef?: string): void {
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
      again.addEventListener('click', () => this.client?.retry(retryRef));
      const drop = el('button', { class: 'link', text: 'Dismiss', attrs: { type: 'button' } });
      drop.addEventListener('click', () => {
        this.client?.discard(retryRef);
        e.remove();
        this.pendingEls.delete(retryRef);
      });
      status.append(' ', again, ' ', drop);
    }
  }

  private showMessage(f: PublicFrame | PrivateFrame): void {
    if (this.seen.has(f.id)) return;
    const pending = f.ref !== undefined ? this.pendingEls.get(f.ref) : undefined;
    if (pending && f.ref !== undefined) {
      this.pendingEls.delete(f.ref);
      this.confirm(pending, f);
      return;
    }
    this.seen.add(f.id);
    this.append(this.messageEl(f), f.from === this.you);
  }

  /** Turns a pending bubble into the message the server confirmed, in place. */
  private confirm(pending: HTMLElement, f: PublicFrame | PrivateFrame): void {
    if (this.seen.has(f.id)) {
      pending.remove();
      return;
    }
    this.seen.add(f.id);
    pending.replaceWith(this.messageEl(f));
  }

  private messageEl(f: PublicFrame | PrivateFrame): HTMLElement {
    const mine = f.from === this.you;
    const from = el('span', { class: 'from', text: mine ? `${f.from} (you)` : f.from });
    from.style.setProperty('--hue', String(nameHue(f.from)));
    const head = el('div', { class: 'msg-head' }, from);
    if (f.type === 'private') {
      head.append(el('span', { class: 'badge', text: 'private' }));
      head.append(el('span', { class: 'to', text: `to ${f.to.map((n) => (n === this.you ? 'you' : n)).join(', ')}` }));
    }
    head.append(timeEl(f.ts));
    const article = el(
      'article',
      { class: `msg ${f.type}${mine ? ' mine' : ''}` },
      head,
      el('p', { class: 'text', text: f.message }),
    );
    if (f.id) article.dataset.id = f.id;
    return article;
  }

  private notice(text: string, ts: number, kind: 'info' | 'warn' = 'info'): void {
    this.append(el('p', { class: `notice ${kind}` }, el('span', { text }), ' ', timeEl(ts)), false);
  }

  private append(node: HTMLElement, force: boolean): void {
    const log = this.ui.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(node);
    // A long session keeps the page light: the oldest entries go first.
    while (log.childElementCount > MAX_LOG_ENTRIES) log.firstElementChild?.remove();
    if (atBottom || force) log.scrollTop = log.scrollHeight;
  }
}
