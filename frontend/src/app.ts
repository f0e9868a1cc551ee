// The chat page: a ChatClient's events routed to the page's parts (join form, status bar, name bar, members, log,
// composer, attention), each its own module; the connection's state lives in the client. With sign-in (config.json's
// auth "cognito") the join form follows the sign-in form and every socket carries the ID token (tokens.ts).

import { Account, type AccountView } from './account';
import { Attention } from './attention';
import type { Auth } from './auth';
import { ChatClient, type OutboxItem, type SocketFactory, type Status } from './client';
import { Composer } from './composer';
import type { ConfigSource } from './config';
import { byId } from './dom';
import { EditSender, NOT_EDITED } from './editsend';
import { JoinForm } from './joinform';
import { MemberPanel } from './memberpanel';
import { LIST_REF, MemberList } from './members';
import { MessageLog } from './messagelog';
import { HISTORY_REF, Scrollback } from './scrollback';
import { Moderation } from './moderation';
import { isMine, listedUsernames, personLabel } from './sender';
import { NameBar } from './namebar';
import { Action, DEFAULT_LIMITS, ErrorCode, type ErrorFrame, type Limits, type PrivateFrame, type PublicFrame, type ServerFrame, type StateFrame, type Warning } from './protocol';
import { forgetResumable, loadResumable, saveResumable, tabStorage } from './resume';
import { SignInForm } from './signinform';
import { StatusBar } from './statusbar';
import { TokenKeeper, type EndReason, type TokenKeeperOptions } from './tokens';
import { TypingSender, TypingShown } from './typing';
import { watchWake } from './wake';
import { signOutEverywhere, type EverywhereAnswer } from './signout';
import { deleteAccount, type DeleteAnswer } from './deleteaccount';

export interface AppOptions {
  wsUrl: string;
  /** Where wsUrl came from; the status says so while the first connection fails. */
  wsSource?: ConfigSource;
  socket?: SocketFactory;
  pingIntervalMs?: number;
  backoffInitialMs?: number;
  /** People sign in through auth before joining; without it the chat is open, as before sign-in existed. */
  signIn?: { auth: Auth; signUp: boolean; tokens?: TokenKeeperOptions };
  /** config.json asks for a sign-in the page cannot do: this is shown instead of any form. */
  configProblem?: string;
}

export class ChatApp {
  private client: ChatClient | null = null;
  private you = '';
  /** With sign-in: your account (the state's), which tells your messages from those of whoever had your name. */
  private myAccount: string | undefined;
  /** With sign-in: your username (the state's), shown beside your name where it differs. */
  private myUsername: string | undefined;
  /** The state's roles say you are a moderator: a Remove on every public message. */
  private moderator = false;
  private room = '';
  private limits: Limits = { ...DEFAULT_LIMITS };
  private everReady = false;
  private keeper: TokenKeeper | null = null;
  /** Takes the server's answer while a sign-out everywhere waits for it. */
  private everywhere: ((a: EverywhereAnswer) => void) | null = null;
  /** Takes the server's answer while a deleteAccount waits for it. */
  private deleting: ((a: DeleteAnswer) => void) | null = null;
  private readonly account: Account | null = null;
  /** The signed-in username, with sign-in: a reload resumes only that account's room. */
  private username: string | undefined;
  /**
   * With sign-in: the messages not yet sent (or not confirmed) when the session ended, the account, name and room
   * they were written in. Signing in again as that account goes back into that room and sends them, in order,
   * before anything typed after; another account drops them.
   */
  private carried: { username: string | undefined; name: string; room: string; items: OutboxItem[] } | null = null;
  /** Where the room, name and resume token are kept across a reload (this tab only). */
  private readonly tab = tabStorage();

  private readonly chatView = byId('chat');
  private readonly roomLabel = byId('room-label');
  private readonly leave = byId<HTMLButtonElement>('leave');
  private readonly joinForm = new JoinForm((name, room) => this.join(name, room));
  private readonly status = new StatusBar(() => this.client?.reconnectNow());
  private readonly composer = new Composer(
    () => this.limits,
    () => this.sendMessage(),
    (text) => this.typingSender.typed(text, this.members.recipients().length > 0),
    () => ({ names: this.members.names(), you: this.you }),
  );
  private readonly typingSender = new TypingSender(() => this.client?.ask({ action: Action.Typing }) ?? false);
  private readonly typingEl = byId('typing');
  private readonly typists = new TypingShown((line) => (this.typingEl.textContent = line));
  private readonly nameBar = new NameBar({
    you: () => this.you,
    limits: () => this.limits,
    rename: (name) => this.client?.send({ action: Action.SetName, name }).ref,
    renamed: () => this.composer.focus(),
  });
  private readonly members = new MemberList(() => this.you, () => this.composer.focus(), (f) => this.client?.ask(f) ?? false, () => this.composer.namesChanged(), (gone) => gone.forEach((p) => this.log.presence('left', p.name, Date.now(), p.username)));
  private readonly moderation = new Moderation(this.members, (f) => this.client?.ask(f) ?? false, (text, kind) => this.log.notice(text, Date.now(), kind), (why) => this.leaveRoom(why), () => this.myAccount);
  private readonly edits = new EditSender((f) => this.client?.ask(f) ?? false, undefined, () => this.log.notice(NOT_EDITED, Date.now(), 'warn'));
  private readonly log = new MessageLog({
    me: () => ({ name: this.you, account: this.myAccount, username: this.myUsername }),
    retry: (ref) => this.client?.retry(ref),
    discard: (ref) => this.client?.discard(ref),
    focusAfterJump: () => this.composer.focus(),
    moderator: () => this.moderator,
    remove: (id) => this.client?.ask({ action: Action.Remove, id }) || this.log.notice('Not connected: the message was not removed. Try again when the connection is back.', Date.now(), 'warn'),
    edit: (id, message) => this.edits.send(id, message),
    older: () => this.scrollback.load(true),
    trimmed: () => this.scrollback.trimmed(),
  });
  private readonly attention = new Attention(() => ({ name: this.you, account: this.myAccount }), (id) => this.log.newSince(id));
  /** Older messages as the person scrolls up (scrollback.ts). */
  private readonly scrollback = new Scrollback(this.log, (f) => this.client?.ask(f) ?? false, (text) => this.log.notice(text, Date.now(), 'warn'));

  constructor(private readonly opts: AppOptions) {
    new MemberPanel();
    this.joinForm.prefill();
    watchWake(window, document, () => this.client);
    this.leave.addEventListener('click', () => this.leaveRoom());
    window.addEventListener('pagehide', () => this.remember());
    if (opts.configProblem) {
      this.joinForm.hide();
      byId('signin').hidden = false;
      byId('signin-notice').textContent = opts.configProblem;
      byId<HTMLButtonElement>('signin-submit').disabled = true;
    } else if (opts.signIn) {
      this.joinForm.hide();
      const account = new Account(opts.signIn.auth, (v) => this.onAccount(v, form));
      const form = new SignInForm(
        account,
        opts.signIn.signUp,
        () => void this.signOut(),
        () => void this.signOutEverywhere(),
        () => void this.deleteAccount(),
      );
      this.account = account;
      void account.resume();
    } else {
      // A reload: back into the room at once, as the same person.
      const r = loadResumable(this.tab);
      if (r) this.join(r.name, r.room, r.resume ?? undefined);
    }
  }

  /** Keeps what a reload needs to come back into the room (resume.ts). */
  private remember(): void {
    if (this.client) saveResumable(this.tab, { ...this.client.resumable, account: this.username });
  }

  // ---- signing in and out ----------------------------------------------------

  private onAccount(v: AccountView, form: SignInForm): void {
    if (v.kind !== 'signedIn') {
      this.closeRoom();
      this.joinForm.hide();
      this.joinForm.account(null);
      this.username = undefined;
    } else if (!this.client) {
      this.username = v.username;
      this.joinForm.account(v.username);
      const c = this.carried;
      if (c && c.username !== v.username) this.carried = null;
      const r = loadResumable(this.tab, v.username);
      if (r) this.join(r.name, r.room, r.resume ?? undefined);
      else if (this.carried) this.join(this.carried.name, this.carried.room);
      else this.joinForm.reveal(v.username);
    }
    form.render(v);
  }

  /** Sign out: the connection closes first, then the session is forgotten. */
  private async signOut(): Promise<void> {
    await this.signOutHere(false);
  }

  private async signOutHere(everywhere: boolean): Promise<void> {
    forgetResumable(this.tab);
    this.closeRoom();
    await this.account?.signOut(everywhere);
  }

  /**
   * Sign out everywhere (signout.ts): the server closes every connection of
   * the account (this one last) and refuses its tokens issued before; once it
   * closed this one, the page forgets the session and every refresh token of
   * the account is revoked. Any failure is said: in the room while the page is
   * still there, on the sign-in form after it left.
   */
  private async signOutEverywhere(): Promise<void> {
    const account = this.account;
    const outcome = await signOutEverywhere({
      send: () => this.client?.ask({ action: Action.SignOutEverywhere }) ?? false,
      answer: () => new Promise<EverywhereAnswer>((resolve) => (this.everywhere = resolve)),
      leave: () => {
        this.everywhere = null;
        forgetResumable(this.tab);
        this.closeRoom();
      },
      revoke: () => account?.signOut(true) ?? Promise.resolve(),
    });
    this.everywhere = null;
    if (outcome.ok) return;
    if (this.client) this.log.notice(outcome.problem, Date.now(), 'warn');
    else account?.notice(outcome.problem);
  }

  /**
   * Delete the account (deleteaccount.ts): asked first; the server deletes
   * the chat account and answers accountDeleted before it closes every
   * connection; then the page leaves and deletes the sign-in account.
   */
  private async deleteAccount(): Promise<void> {
    const account = this.account;
    const outcome = await deleteAccount({
      confirm: (q) => window.confirm(q),
      send: () => this.client?.ask({ action: Action.DeleteAccount }) ?? false,
      answer: () => new Promise<DeleteAnswer>((resolve) => (this.deleting = resolve)),
      leave: () => {
        this.deleting = null;
        forgetResumable(this.tab);
        this.closeRoom();
      },
      deleteUser: () => account?.deleteUser() ?? Promise.resolve(),
    });
    this.deleting = null;
    if (outcome.ok || outcome.cancelled) return;
    if (this.client) this.log.notice(outcome.problem, Date.now(), 'warn');
    else account?.notice(outcome.problem);
  }

  /** The session ended on its own (tokens.ts): no reconnecting, back to the sign-in form. */
  private sessionEnded(why: EndReason): void {
    const items = this.client?.pending().filter((i) => i.frame.action !== Action.SetName) ?? [];
    this.carried = items.length ? { username: this.username, name: this.you, room: this.room, items } : null;
    forgetResumable(this.tab);
    this.closeRoom();
    void this.account?.ended(why);
  }

  // ---- joining and leaving ---------------------------------------------------

  private join(name: string, room: string, resume?: string): void {
    this.reset();
    this.room = room;
    this.you = name;
    this.myAccount = undefined;
    this.myUsername = undefined;
    this.roomLabel.textContent = `#${room}`;
    this.roomLabel.hidden = false;
    this.nameBar.show(name || 'a guest');
    this.joinForm.hide();
    this.chatView.hidden = false;
    const signIn = this.opts.signIn;
    const keeper = signIn ? new TokenKeeper(signIn.auth, (why) => this.sessionEnded(why), signIn.tokens) : null;
    this.keeper = keeper;
    this.client = new ChatClient(
      {
        url: this.opts.wsUrl,
        name,
        room,
        socket: this.opts.socket,
        pingIntervalMs: this.opts.pingIntervalMs,
        backoff: this.opts.backoffInitialMs ? { initialMs: this.opts.backoffInitialMs } : undefined,
        token: keeper ? (last) => keeper.tokenFor(this.opts.wsUrl, last) : undefined,
        reauthToken: keeper ? () => keeper.fresh() : undefined,
        resume,
      },
      {
        frame: (f) => this.onFrame(f),
        settled: (f) => this.onSettled(f),
        status: (s) => this.onStatus(s),
        outbox: (i) => this.onOutbox(i),
        warning: (w) => this.onWarning(w),
        invalid: (reason) => console.warn('ignored a frame from the server:', reason),
      },
    );
    if (keeper) keeper.onRenewed = (jwt) => void this.client?.reauthWith(jwt); // in band: no reconnect
    this.adoptCarried(room);
    this.client.start();
    this.composer.focus();
  }

  /** The messages left when the session ended, shown and sent again in the room they were written in. */
  private adoptCarried(room: string): void {
    const c = this.carried;
    this.carried = null;
    const client = this.client;
    if (!c || !client || c.room !== room) return;
    for (const item of c.items) {
      const f = item.frame;
      if (f.action !== Action.SendPublic && f.action !== Action.SendPrivate) continue;
      this.log.addPending(item.ref, { room, message: f.message, to: f.action === Action.SendPrivate ? f.to : [] });
      client.adopt(item);
    }
  }

  private leaveRoom(why = ''): void {
    forgetResumable(this.tab);
    this.closeRoom();
    this.joinForm.show(this.you, why);
  }

  /** Closes the connection, if there is one, and hides the chat. */
  private closeRoom(): void {
    this.keeper?.stop();
    this.keeper = null;
    this.edits.clear(); // an edit waiting for the budget was this room's
    const client = this.client;
    if (!client) return;
    this.client = null;
    client.stop();
    this.log.abandon(client.pending());
    this.onStatus({ state: 'stopped', attempt: 0 });
    this.chatView.hidden = true;
    this.roomLabel.hidden = true;
  }

  private reset(): void {
    this.everReady = false;
    this.log.clear();
    this.nameBar.error('');
    this.composer.error('');
    this.nameBar.edit(false);
    this.members.reset();
    this.scrollback.reset();
  }

  // ---- the client's events ---------------------------------------------------

  private onStatus(s: Status): void {
    // The server closed the connection after signOutEverywhere: its answer.
    if (this.everywhere && s.state !== 'ready') this.everywhere({ closed: true });
    this.status.show(s, { room: this.room, everReady: this.everReady, source: this.opts.wsSource });
    if (s.state === 'ready') {
      if (this.everReady) this.log.notice('Reconnected.', Date.now(), 'info');
      this.everReady = true;
    } else if (s.state === 'waiting' && s.attempt === 1 && this.everReady) {
      this.log.notice('Connection lost. Messages you send now are queued until it is back.', Date.now(), 'warn');
    }
  }

  private onFrame(f: ServerFrame): void {
    this.moderation.frame(f);
    switch (f.type) {
      case 'accountDeleted':
        this.deleting?.({ deleted: true });
        break;
      case 'state':
        this.onState(f);
        break;
      case 'joined':
        this.members.apply(f);
        this.log.presence('joined', f.name, f.ts, f.username);
        break;
      case 'left':
        this.typists.stopped(f);
        this.members.apply(f);
        this.log.presence('left', f.name, f.ts, f.username);
        break;
      case 'members': {
        this.members.apply(f);
        const usernames = new Map((f.left ?? []).map((l) => [l.name, l.username]));
        for (const g of f.gone) this.log.presence('lost', g, f.ts, usernames.get(g));
        break;
      }
      case 'renamed':
        if (f.oldName === f.name) break;
        if (isMine({ from: f.oldName, account: f.account }, { name: this.you, account: this.myAccount })) {
          this.you = f.name;
          this.nameBar.show(f.name);
          this.nameBar.error('');
          this.log.notice(`You are now ${personLabel(f.name, f.username)}`, f.ts);
          this.remember();
        } else {
          this.log.notice(`${personLabel(f.oldName, f.username)} is now ${personLabel(f.name, f.username)}`, f.ts);
        }
        this.members.apply(f);
        break;
      case 'public':
      case 'private':
        this.typists.stopped({ name: f.from, account: f.account }, f.ts);
        this.log.show(f);
        this.attention.arrived(f);
        this.members.learn(f.from, f.username);
        break;
      case 'error':
        this.onError(f);
        break;
      case 'pong':
        if (f.count !== undefined) this.members.counted(f.count, f.cv);
        break;
      case 'presence':
        this.members.counted(f.count, f.cv);
        break;
      case 'memberPage':
        this.members.page(f);
        break;
      case 'removed':
        this.log.removed(f);
        break;
      case 'edited':
        this.edits.answered(f);
        this.attention.edited(this.log.edited(f), f);
        break;
      case 'typing':
        this.typists.typing(f, { name: this.you, account: this.myAccount });
        break;
      case 'historyPage':
        this.scrollback.page(f);
        break;
    }
  }

  private onState(f: StateFrame): void {
    this.typists.clear();
    this.you = f.you;
    this.moderator = f.roles.includes('moderator');
    this.myAccount = f.account;
    this.myUsername = f.username;
    this.room = f.room;
    this.limits = f.limits;
    this.nameBar.show(f.you);
    this.roomLabel.textContent = `#${f.room}`;
    this.nameBar.setMaxLength(f.limits);
    this.members.apply(f);
    this.members.learn(f.you, f.username);
    this.showHistory(f);
    this.scrollback.state(f.historyCursor);
    this.composer.updateCounter();
    this.remember();
  }

  /** The state's public history and your own private conversation, in the order they were sent. */
  private showHistory(f: StateFrame): void {
    const all: Array<PublicFrame | PrivateFrame> = [...f.history, ...(f.private ?? [])];
    all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const h of all) this.log.show(h);
  }

  /**
   * The state again, a little after connecting: whom the room index missed
   * joins the list (without undoing a presence frame), and public messages
   * that missed us fill in the log.
   */
  private onSettled(f: StateFrame): void {
    this.members.apply({ type: 'settled', members: f.members, count: f.count, cv: f.cv });
    this.members.learnListed(listedUsernames(f.members, f.usernames));
    this.showHistory(f);
  }

  /** A new warning about the name (the client leaves out repeats after a reconnect). */
  private onWarning(w: Warning): void {
    this.nameBar.error(w.message);
    this.log.notice(w.message, Date.now(), 'warn');
  }

  private onError(f: ErrorFrame): void {
    if (this.edits.answered(f)) return;
    if (this.deleting && f.action === Action.DeleteAccount) {
      return this.deleting({ deleted: false, message: f.message });
    }
    if (this.everywhere && f.action === Action.SignOutEverywhere) {
      // signed_out: this connection was signed out everywhere already (the server closes it).
      return this.everywhere(f.code === ErrorCode.SignedOut ? { closed: true } : { closed: false, message: f.message });
    }
    // Errors with a ref are shown by onOutbox next to what caused them.
    if (f.ref !== undefined && this.client?.pending().some((i) => i.ref === f.ref)) return;
    if (f.action === Action.Typing) return; // best effort: a refused typing is nobody's concern
    // A list read the page asked for itself (converge.ts): no one to tell, it is tried again.
    if (f.ref === LIST_REF) return this.members.listFailed();
    if (f.ref === HISTORY_REF) return this.scrollback.error(f);
    if (f.action === Action.SetName) this.nameBar.error(f.message);
    else if (f.action === Action.SendPublic || f.action === Action.SendPrivate) this.composer.error(f.message);
    else this.log.notice(f.message, Date.now(), 'warn');
  }

  private onOutbox(item: OutboxItem): void {
    if (item.frame.action !== Action.SetName) {
      this.log.outbox(item);
      return;
    }
    this.nameBar.outbox(item);
    // A rename that failed or may not have arrived is not kept for "Send again": the user picks one again.
    if (item.state === 'failed' || item.state === 'unconfirmed') this.client?.discard(item.ref);
  }

  // ---- sending -----------------------------------------------------------------

  private sendMessage(): void {
    const client = this.client;
    if (!client) return;
    const to = this.members.recipients();
    const frame = this.composer.draft(to);
    if (!frame) return;
    const item = client.send(frame);
    // The item may already be settled if the echo raced us; only show it when pending.
    if (client.pending().some((i) => i.ref === item.ref)) {
      this.log.addPending(item.ref, { room: this.room, message: frame.message, to });
      this.onOutbox(client.pending().find((i) => i.ref === item.ref) ?? item);
    }
    this.composer.sent();
    this.typingSender.sent();
  }
}
