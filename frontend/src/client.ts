// ChatClient is what the page talks to: one chat connection kept alive, with
// an outbox so that nothing the user sends is lost silently. It composes three
// pieces and routes the server's frames between them:
//   - Connection (connection.ts): the socket's life — hello (and the settle
//     hello a little later), ping, timeouts, reconnect with backoff;
//   - Outbox (outbox.ts): refs, queued sends, matching answers to them;
//   - Session (session.ts): name, room, resume token, taking a name back.
// It knows nothing about the DOM; the page subscribes to its events.

import { SessionEnded } from './auth';
import { Connection, type CloseReason, type ConnectionOptions, type Status } from './connection';
import { Outbox, type OutboxItem } from './outbox';
import { parseFrame, type ClientFrame, type ServerFrame, type StateFrame, type Warning } from './protocol';
import { RECLAIM_AFTER_MS, Session } from './session';
import { withToken } from './tokens';
import { Action, ErrorCode } from './protocol.gen';

// The types the page needs along with ChatClient.
export type { Backoff } from './backoff';
export type { ConnState, Status } from './connection';
export type { OutboxItem, OutboxState } from './outbox';
export type { SocketFactory, SocketLike } from './wire';

export interface ClientEvents {
  /** Every well-formed frame from the server, in order of arrival, but the settle state (see settled). */
  frame?(frame: ServerFrame): void;
  /**
   * The answer to the settle hello (connection.ts): the state asked for again
   * a little after connecting, once the room index caught up. Its members may
   * name people the first state and the presence frames missed, its history
   * messages sent to a room index that did not list us yet. It has no ts, and
   * the index may still lag behind a presence frame that just arrived, so it
   * should not undo one (presence.ts, `settled`). The name, the token and the
   * warning stay those of the first state and the frames since.
   */
  settled?(state: StateFrame): void;
  status?(status: Status): void;
  /** An outbox item changed state. */
  outbox?(item: OutboxItem): void;
  /**
   * The state's warning about the name (taken or invalid, so the client is a
   * guest), after the state's frame event; only when it differs in code or
   * message from the last one reported by this client: the server repeats it
   * in every state until the name changes, that is after every reconnect.
   */
  warning?(warning: Warning): void;
  /** A frame the client could not parse; it is otherwise ignored. */
  invalid?(reason: string, text: string): void;
}

export interface ClientOptions extends ConnectionOptions {
  /** The stage's ws:// or wss:// URL; name and room are added as query parameters. */
  url: string;
  name: string;
  room: string;
  /**
   * With sign-in: the ID token for the next socket, asked for before every
   * (re)connect (last: why the previous socket closed) and put in the URL's
   * `token` parameter. Rejecting with SessionEnded stops the client for good:
   * the person must sign in again, there is nothing to retry. Any other
   * rejection is a failed attempt, retried with the backoff. Without it
   * (sign-in off) the URL carries no token.
   */
  token?: (last?: CloseReason) => Promise<string>;
  /**
   * With sign-in: a fresh ID token, for when the server says the
   * connection's sign-in ended (reauth_required): the client sends reauth
   * with it, in band, and what was refused goes out again.
   */
  reauthToken?: () => Promise<string>;
  /** A resume token kept from before a reload: the first connect presents it (resume.ts). */
  resume?: string;
}

export class ChatClient {
  /** Delays after a reconnect's state at which a taken name is asked for again. */
  static readonly RECLAIM_AFTER_MS = RECLAIM_AFTER_MS;

  private readonly conn: Connection;
  private readonly outbox: Outbox;
  private readonly session: Session;
  private readonly reauthToken?: () => Promise<string>;
  private reauthing = false;

  constructor(
    options: ClientOptions,
    private readonly events: ClientEvents = {},
  ) {
    const token = options.token;
    this.reauthToken = options.reauthToken;
    this.conn = new Connection(options, {
      url: (last) => {
        if (!token) return this.session.url(options.url);
        return token(last).then(
          (t) => withToken(this.session.url(options.url), t),
          (err: unknown) => {
            if (err instanceof SessionEnded) this.stop();
            throw err;
          },
        );
      },
      message: (text) => this.receive(text),
      lost: () => {
        this.session.lost();
        this.outbox.lost();
      },
      status: (s) => this.events.status?.(s),
    });
    // A frame unanswered past the function's timeout will not be answered:
    // the connection is taken for lost, and what it sent is unconfirmed until
    // the next state's history says (outbox.ts).
    this.outbox = new Outbox(
      this.conn,
      (item) => this.events.outbox?.(item),
      () => this.conn.drop({ code: 4005, reason: 'a frame went unanswered' }),
    );
    this.session = new Session(options.name, options.room, this.conn, options.resume);
  }

  get state(): Status {
    return this.conn.state;
  }

  /** The name the client reconnects with (the server's, once it answered). */
  get currentName(): string {
    return this.session.name;
  }

  get currentRoom(): string {
    return this.session.room;
  }

  /** The name, room and resume token a reload comes back with (resume.ts). */
  get resumable(): { name: string; room: string; resume: string | null } {
    return this.session.resumable;
  }

  /** Items not yet confirmed: queued, sent, unconfirmed or failed. */
  pending(): OutboxItem[] {
    return this.outbox.pending();
  }

  start(): void {
    this.conn.start();
  }

  /** Closes for good (until start()); queued frames stay queued for a later start(). */
  stop(): void {
    this.conn.stop();
  }

  /** Skips the wait of a scheduled retry (for a "retry now" button or the browser's online event). */
  reconnectNow(): void {
    this.conn.reconnectNow();
  }

  /** Pings at once when ready, so that a connection that died meanwhile is noticed soon. */
  pingNow(): void {
    this.conn.pingNow();
  }

  /**
   * Sends a question whose answer nothing waits for (a page of the member
   * list): at once when ready, else not at all (false).
   */
  ask(frame: ClientFrame): boolean {
    return this.state.state === 'ready' && this.conn.send(frame);
  }

  /** Sends a frame through the outbox: at once when ready, else queued until the connection is. */
  send(frame: ClientFrame): OutboxItem {
    if (frame.action === Action.SetName) this.session.choseName(); // the user's choice wins
    return this.outbox.add(frame);
  }

  /** Signs the connection in again with a renewed token (reauth), if it is ready; nothing otherwise (the next socket carries it). */
  reauthWith(token: string): boolean {
    return this.ask({ action: Action.Reauth, token });
  }

  /** The server said the sign-in ended: one reauth at a time, with a fresh token. */
  private reauthNow(): void {
    const fresh = this.reauthToken;
    if (!fresh || this.reauthing) return;
    this.reauthing = true;
    fresh()
      .then((token) => this.reauthWith(token))
      .catch(() => this.conn.drop({ code: 4001, reason: 'could not renew the sign-in' }))
      .finally(() => {
        this.reauthing = false;
      });
  }

  /** Queues an unconfirmed or failed item again. */
  retry(ref: string): void {
    this.outbox.retry(ref);
  }

  /** Takes over a message of a client that stopped (outbox.ts, adopt): queued ones are sent once ready, in order. */
  adopt(item: OutboxItem): void {
    this.outbox.adopt(item);
  }

  /** Forgets an item that is not on the wire (the user gave up on it). */
  discard(ref: string): void {
    this.outbox.discard(ref);
  }

  private receive(text: string): void {
    const parsed = parseFrame(text);
    if (!parsed.ok) {
      this.events.invalid?.(parsed.reason, text);
      return;
    }
    const f = parsed.frame;
    this.conn.answered();
    if (f.type === 'public' || f.type === 'private') this.outbox.seen(f.id);
    switch (f.type) {
      case 'state':
        if (this.conn.ready) {
          this.events.settled?.(f);
          return;
        }
        this.onState(f);
        break;
      case 'renamed':
        this.session.onRenamed(f);
        break;
      case 'members':
        this.session.onMembers(f);
        break;
      case 'reauthed':
        this.outbox.signedIn(); // what waited for the sign-in goes out
        return;
      case 'error':
        if (f.code === ErrorCode.ReauthRequired) {
          // Not stored, not sent: it goes out again once signed in (outbox.ts).
          this.reauthNow();
          this.outbox.settle(f);
          return;
        }
        if (f.code === ErrorCode.ReauthRefused) {
          // The token was refused (the account signed out everywhere, or
          // was disabled): a new connection asks the issuer, or ends the session.
          this.conn.drop({ code: 4001, reason: 'reauth refused' });
          return;
        }
        if (this.session.isReclaimAnswer(f)) return;
        // A keep-alive or count poll the budget refused: an answer all the
        // same (the connection is alive), and nothing the person did.
        if (f.action === Action.Ping && f.code === ErrorCode.RateLimited) return;
        // The settle hello failed (say internal): the connection and the state
        // it had are fine.
        if (f.action === Action.Hello && this.conn.ready && !forgotten(f.code)) return;
        if (f.action === Action.Hello) {
          // No state is coming on this connection (e.g. internal): start over;
          // rate_limited (the account connected too often, or said hello too
          // often) not before the server lets it in again.
          this.events.frame?.(f);
          const wait = f.code === ErrorCode.RateLimited ? (f.retryAfterMs ?? 0) : 0;
          this.conn.drop({ code: 4003, reason: `hello failed: ${f.code}` }, wait);
          return;
        }
        if (forgotten(f.code)) {
          // The server forgot this connection (it expired; or, at the
          // account's device cap, it was never let in): a new one fixes it,
          // or is told why not.
          this.events.frame?.(f);
          this.outbox.settle(f);
          this.conn.drop({ code: 4000, reason: 'server forgot the connection' });
          return;
        }
        break;
    }
    this.events.frame?.(f);
    if (f.type === 'state' && f.warning && this.session.isNewWarning(f.warning)) this.events.warning?.({ ...f.warning });
    this.outbox.settle(f);
  }

  /**
   * The order matters to the page: items the history confirms are settled
   * before the status says ready, and queued items go out after it, before the
   * state's own frame event.
   */
  private onState(f: StateFrame): void {
    const sender = this.session.name;
    this.session.onState(f);
    this.outbox.confirmFromHistory(f.history, sender);
    this.conn.joined();
    this.session.joined();
    this.outbox.signedIn(); // a new connection is signed in: flushes
  }
}

/** The server does not know the connection: not_connected, or too_many_devices (a $connect past the account's device cap records nothing). */
function forgotten(code: string): boolean {
  return code === ErrorCode.NotConnected || code === ErrorCode.TooManyDevices;
}
