// ChatClient keeps one chat connection alive: it connects, says hello, pings
// against API Gateway's idle timeout, reconnects with exponential backoff and
// jitter when the socket closes (API Gateway closes every connection after two
// hours), and keeps an outbox so that nothing the user sends is lost silently:
// every outgoing frame is queued until the connection is ready, then sent, then
// either confirmed by the server's echo (matched by ref), failed with the
// server's error, or marked unconfirmed when the socket dropped before the echo.
// It knows nothing about the DOM; the page subscribes to its events.

import {
  foldName,
  parseFrame,
  type ClientFrame,
  type ErrorFrame,
  type ServerFrame,
  type StateFrame,
  type Warning,
} from './protocol';

/** The subset of the browser's WebSocket the client uses (tests pass a fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

const OPEN = 1;

export interface Backoff {
  /** Delay before the first retry, before jitter. Default 1000 ms. */
  initialMs: number;
  /** Upper bound of any delay. Default 30000 ms. */
  maxMs: number;
  /** Growth per failed attempt. Default 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, factor: 2 };

/**
 * The wait before retry number `attempt` (0-based): exponential growth capped at
 * maxMs, with "equal jitter" — half of it fixed, half random — so that a room
 * full of clients dropped at once does not reconnect in lockstep, while no
 * retry comes sooner than half the nominal delay.
 */
export function backoffDelay(attempt: number, b: Backoff, random: () => number): number {
  const nominal = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, attempt));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/**
 * connecting: the socket is opening. joining: it is open and hello was sent.
 * ready: the state arrived; frames flow. waiting: the socket closed and a retry
 * is scheduled. stopped: stop() was called.
 */
export type ConnState = 'connecting' | 'joining' | 'ready' | 'waiting' | 'stopped';

export interface Status {
  state: ConnState;
  /** Failed attempts since the connection was last ready. */
  attempt: number;
  /** When state is waiting: the time (Date.now()) of the next attempt. */
  retryAt?: number;
  /** Why the last socket closed, when one did. */
  lastClose?: { code: number; reason: string };
}

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
  /** The server frame that confirmed it (public, private or renamed). */
  echo?: ServerFrame;
}

export interface ClientEvents {
  /** Every well-formed frame from the server, in order of arrival. */
  frame?(frame: ServerFrame): void;
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

export interface ClientOptions {
  /** The stage's ws:// or wss:// URL; name and room are added as query parameters. */
  url: string;
  name: string;
  room: string;
  socket?: SocketFactory;
  /** App-level ping period, well inside API Gateway's 10-minute idle timeout. Default 4 minutes. */
  pingIntervalMs?: number;
  /**
   * A ping, or any other frame sent, unanswered this long means the connection
   * is dead. Default 20 s. A socket that does not open this long, or a hello
   * unanswered by a state this long, is treated the same way.
   */
  pongTimeoutMs?: number;
  /**
   * A connection must stay ready this long for the backoff to start over from
   * the first delay; a shorter one (say, a state then not_connected) keeps
   * counting, so a server that drops every connection at once is not hit about
   * once a second forever. Default 30 s.
   */
  stableMs?: number;
  backoff?: Partial<Backoff>;
  random?: () => number;
}

let refSeq = 0;
const refPrefix = Math.random().toString(36).slice(2, 8);
/** The ref of the client's own attempts to take its name back after a reconnect. */
const RECLAIM_REF = `${refPrefix}-reclaim`;

function newRef(): string {
  refSeq += 1;
  return `${refPrefix}-${refSeq}`;
}

/** The connection URL: the stage URL with name, room and a resume token added to its query. */
export function connectUrl(base: string, name: string, room: string, resume?: string | null): string {
  const u = new URL(base);
  if (name) u.searchParams.set('name', name);
  else u.searchParams.delete('name');
  u.searchParams.set('room', room);
  if (resume) u.searchParams.set('resume', resume);
  return u.toString();
}

export class ChatClient {
  private readonly opts: Required<Omit<ClientOptions, 'backoff'>> & { backoff: Backoff };
  private readonly events: ClientEvents;
  private socket: SocketLike | null = null;
  private status: Status = { state: 'stopped', attempt: 0 };
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  /**
   * Runs from the first frame put on the wire (a ping or anything the user
   * sends) that got no answer yet; any frame received stops it, and firing
   * means the connection is dead (half-open: the socket looks open, nothing
   * comes back).
   */
  private answerTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Runs from open() until the state arrives, pongTimeoutMs for each step: for
   * the socket to open, then (started again at onopen) for hello's answer.
   * Firing means the attempt failed: drop it and retry with the backoff.
   */
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Failed attempts since the last connection that stayed ready stableMs: what the backoff grows with. */
  private failures = 0;
  /** Date.now() when the current connection became ready. */
  private readySince = 0;
  /** The newest message id (public or private) seen; ULIDs sort by time as strings. */
  private newestId = '';
  /**
   * Ids that already confirmed an outbox item (by ref or from history): a
   * message confirms at most one item. Bounded: only recent ids matter.
   */
  private readonly confirmedIds = new Set<string>();
  private readonly outbox: OutboxItem[] = [];
  /** The name to (re)connect with: the one the server last gave us. */
  private name: string;
  private room: string;
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
   * on reconnect, the server hands the name over at once (docs/protocol.md).
   * A reconnect that ended up a guest keeps the older token, which still
   * matches the claim on the name it wants.
   */
  private resume: string | null = null;
  /** The current connection's token; it holds the name after a rename. */
  private connToken: string | null = null;
  private everReady = false;
  /** The last warning reported by the warning event. */
  private lastWarning: Warning | null = null;

  /** Delays after a reconnect's state at which a taken name is asked for again. */
  static readonly RECLAIM_AFTER_MS = [2_000, 5_000, 15_000, 60_000];

  constructor(options: ClientOptions, events: ClientEvents = {}) {
    const b = options.backoff ?? {};
    this.opts = {
      url: options.url,
      name: options.name,
      room: options.room,
      socket: options.socket ?? ((url) => new WebSocket(url) as unknown as SocketLike),
      pingIntervalMs: options.pingIntervalMs ?? 4 * 60_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 20_000,
      stableMs: options.stableMs ?? 30_000,
      random: options.random ?? Math.random,
      backoff: {
        initialMs: b.initialMs ?? DEFAULT_BACKOFF.initialMs,
        maxMs: b.maxMs ?? DEFAULT_BACKOFF.maxMs,
        factor: b.factor ?? DEFAULT_BACKOFF.factor,
      },
    };
    this.events = events;
    this.name = options.name;
    this.room = options.room;
  }

  get state(): Status {
    return { ...this.status };
  }

  /** The name the client reconnects with (the server's, once it answered). */
  get currentName(): string {
    return this.name;
  }

  get currentRoom(): string {
    return this.room;
  }

  /** Items not yet confirmed: queued, sent, unconfirmed or failed. */
  pending(): OutboxItem[] {
    return this.outbox.map((i) => ({ ...i }));
  }

  start(): void {
    if (this.status.state !== 'stopped') return;
    this.status = { state: 'stopped', attempt: 0 };
    this.failures = 0;
    this.open();
  }

  /** Closes for good (until start()); queued frames stay queued for a later start(). */
  stop(): void {
    this.clearTimers();
    const s = this.socket;
    this.detach();
    if (s) s.close(1000, 'bye');
    this.markInFlightUnconfirmed();
    this.setStatus({ state: 'stopped', attempt: 0 });
  }

  /** Skips the wait of a scheduled retry (for a "retry now" button or the browser's online event). */
  reconnectNow(): void {
    if (this.status.state !== 'waiting') return;
    this.clearRetry();
    this.open();
  }

  /**
   * Pings at once when ready (the page calls it when the network comes back or
   * the page becomes visible again): a connection that died meanwhile is then
   * noticed within the answer timeout, not at the next keep-alive ping.
   */
  pingNow(): void {
    if (this.status.state !== 'ready') return;
    if (this.raw({ action: 'ping' })) this.awaitAnswer('no answer to ping');
  }

  /**
   * Sends a frame, or queues it until the connection is ready. hello and ping
   * go out only on a live socket; everything else goes through the outbox.
   */
  send(frame: ClientFrame): OutboxItem {
    if (frame.action === 'setName') this.giveUpReclaim(); // the user's choice wins
    const item: OutboxItem = { ref: frame.ref ?? newRef(), frame: { ...frame, ref: frame.ref ?? '' }, state: 'queued' };
    item.frame.ref = item.ref;
    this.outbox.push(item);
    if (this.status.state === 'ready') this.transmit(item);
    else this.emitOutbox(item);
    return { ...item };
  }

  /** Queues an unconfirmed or failed item again. */
  retry(ref: string): void {
    const item = this.outbox.find((i) => i.ref === ref);
    if (!item || (item.state !== 'unconfirmed' && item.state !== 'failed')) return;
    item.state = 'queued';
    delete item.error;
    if (this.status.state === 'ready') this.transmit(item);
    else this.emitOutbox(item);
  }

  /** Forgets an item that is not on the wire (the user gave up on it). */
  discard(ref: string): void {
    const i = this.outbox.findIndex((x) => x.ref === ref);
    if (i < 0 || this.outbox[i].state === 'sent') return;
    const [item] = this.outbox.splice(i, 1);
    item.state = 'done';
    this.emitOutbox(item);
  }

  private open(): void {
    let socket: SocketLike;
    this.setStatus({ ...this.status, state: 'connecting', retryAt: undefined });
    try {
      socket = this.opts.socket(connectUrl(this.opts.url, this.wanted ?? this.name, this.room, this.resume));
    } catch {
      // A malformed URL does not get better by retrying, but the page may be
      // given another one; keep the loop so the state stays visible.
      this.scheduleRetry({ code: 0, reason: 'invalid WebSocket URL' });
      return;
    }
    this.socket = socket;
    // A handshake that never completes (a dead network path, a proxy that
    // swallows the upgrade) would otherwise leave the page connecting for as
    // long as the browser cares to wait.
    this.startHandshakeTimer({ code: 4004, reason: 'no answer to connect' });
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.setStatus({ ...this.status, state: 'joining' });
      this.raw({ action: 'hello' });
      // Without a state the connection is useless (nothing may be sent before
      // it), and API Gateway would keep it open for 10 idle minutes.
      this.startHandshakeTimer({ code: 4002, reason: 'no answer to hello' });
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      if (typeof ev.data === 'string') this.receive(ev.data);
    };
    socket.onerror = () => {
      // The close event that follows carries the information.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.detach();
      this.markInFlightUnconfirmed();
      this.scheduleRetry({ code: ev.code, reason: ev.reason });
    };
  }

  private receive(text: string): void {
    const parsed = parseFrame(text);
    if (!parsed.ok) {
      this.events.invalid?.(parsed.reason, text);
      return;
    }
    const f = parsed.frame;
    this.noteAnswer();
    if ((f.type === 'public' || f.type === 'private') && f.id > this.newestId) this.newestId = f.id;
    switch (f.type) {
      case 'state':
        this.onState(f);
        break;
      case 'renamed':
        if (f.oldName === this.name) {
          this.name = f.name;
          this.resume = this.connToken;
          if (this.wanted !== null && foldName(f.name) === foldName(this.wanted)) this.giveUpReclaim();
        }
        break;
      case 'members':
        // A stale connection was removed: if it held our name, ask at once.
        if (this.wanted !== null && f.gone.some((g) => foldName(g) === foldName(this.wanted ?? ''))) this.reclaim();
        break;
      case 'error':
        if (f.ref === RECLAIM_REF) return; // still taken: the next attempt is scheduled

        if (f.action === 'hello') {
          // No state is coming on this connection (e.g. internal): start over.
          this.events.frame?.(f);
          this.drop({ code: 4003, reason: `hello failed: ${f.code}` });
          return;
        }
        if (f.code === 'not_connected') {
          // The server forgot this connection (it expired): a new one fixes it.
          this.events.frame?.(f);
          this.settle(f);
          this.drop({ code: 4000, reason: 'server forgot the connection' });
          return;
        }
        break;
    }
    this.events.frame?.(f);
    if (f.type === 'state' && f.warning) this.reportWarning(f.warning);
    this.settle(f);
  }

  private reportWarning(w: Warning): void {
    const last = this.lastWarning;
    if (last && last.code === w.code && last.message === w.message) return;
    this.lastWarning = { ...w };
    this.events.warning?.({ ...w });
  }

  private onState(f: StateFrame): void {
    this.clearHandshake();
    const sender = this.name;
    const asked = this.wanted ?? this.name;
    this.name = f.you;
    this.room = f.room;
    if (this.everReady && f.warning?.code === 'name_taken' && foldName(asked) !== foldName(f.you)) {
      this.wanted = asked;
    }
    this.connToken = f.resume ?? null;
    if (this.wanted === null) this.resume = this.connToken;
    // A public message that went out just before a drop is in the history if
    // the server stored it; that confirms it without sending it twice. Only a
    // message stored after the item went out can be it (its id sorts after
    // every id seen by then), and a message confirms at most one item: an
    // earlier, already confirmed "ok" must not swallow a second "ok".
    for (const item of this.outbox) {
      if (item.state !== 'unconfirmed' || item.frame.action !== 'sendPublic') continue;
      const text = item.frame.message;
      const since = (item.sentAt ?? 0) - 5 * 60_000;
      const after = item.seenId ?? '';
      const echo = f.history.find(
        (h) => h.from === sender && h.message === text && h.ts >= since && h.id > after && !this.confirmedIds.has(h.id),
      );
      if (echo) {
        this.noteConfirmed(echo.id);
        item.state = 'done';
        item.echo = echo;
      }
    }
    for (const h of f.history) if (h.id > this.newestId) this.newestId = h.id;
    for (const item of this.outbox.filter((i) => i.state === 'done')) this.remove(item);
    this.everReady = true;
    this.readySince = Date.now();
    this.setStatus({ state: 'ready', attempt: 0 });
    this.startPing();
    if (this.wanted !== null) {
      this.clearReclaim();
      this.reclaimTimers = ChatClient.RECLAIM_AFTER_MS.map((ms) => setTimeout(() => this.reclaim(), ms));
    }
    for (const item of this.outbox) if (item.state === 'queued') this.transmit(item);
  }

  /** Matches a frame carrying our ref to the outbox item it answers. */
  private settle(f: ServerFrame): void {
    const ref = 'ref' in f ? f.ref : undefined;
    if (ref === undefined) return;
    const item = this.outbox.find((i) => i.ref === ref);
    if (!item) return;
    if (f.type === 'error') {
      item.state = 'failed';
      item.error = f;
      this.emitOutbox(item);
    } else {
      if (f.type === 'public' || f.type === 'private') this.noteConfirmed(f.id);
      item.state = 'done';
      item.echo = f;
      this.remove(item);
    }
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
    const i = this.outbox.indexOf(item);
    if (i >= 0) this.outbox.splice(i, 1);
    this.emitOutbox(item);
  }

  private transmit(item: OutboxItem): void {
    if (!this.raw(item.frame)) return;
    this.awaitAnswer(`no answer to ${item.frame.action}`);
    item.state = 'sent';
    item.sentAt = Date.now();
    item.seenId = this.newestId;
    this.emitOutbox(item);
  }

  private raw(frame: ClientFrame): boolean {
    const s = this.socket;
    if (!s || s.readyState !== OPEN) return false;
    try {
      s.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private startPing(): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (this.raw({ action: 'ping' })) this.awaitAnswer('no answer to ping');
    }, this.opts.pingIntervalMs);
  }

  /**
   * A frame just went out: unless the answer timer already runs (its deadline
   * counts from the oldest unanswered frame, later ones do not push it back),
   * the server has pongTimeoutMs to send anything at all.
   */
  private awaitAnswer(reason: string): void {
    if (this.answerTimer !== null) return;
    this.answerTimer = setTimeout(() => {
      this.answerTimer = null;
      this.drop({ code: 4001, reason });
    }, this.opts.pongTimeoutMs);
  }

  /** Any frame proves the connection is alive, not only pong. */
  private noteAnswer(): void {
    if (this.answerTimer !== null) {
      clearTimeout(this.answerTimer);
      this.answerTimer = null;
    }
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.noteAnswer();
  }

  /** Abandons the current socket without waiting for its close handshake. */
  private drop(why: { code: number; reason: string }): void {
    const s = this.socket;
    this.detach();
    if (s) {
      try {
        s.close(1000, why.reason);
      } catch {
        // Already closing.
      }
    }
    this.markInFlightUnconfirmed();
    this.scheduleRetry(why);
  }

  private detach(): void {
    this.clearReclaim();
    const s = this.socket;
    if (s) {
      s.onopen = s.onmessage = s.onerror = s.onclose = null;
    }
    this.socket = null;
    this.stopPing();
    this.clearHandshake();
  }

  private startHandshakeTimer(why: { code: number; reason: string }): void {
    this.clearHandshake();
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      this.drop(why);
    }, this.opts.pongTimeoutMs);
  }

  private clearHandshake(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  private markInFlightUnconfirmed(): void {
    for (const item of this.outbox) {
      if (item.state === 'sent') {
        item.state = 'unconfirmed';
        this.emitOutbox(item);
      }
    }
  }

  private scheduleRetry(lastClose: { code: number; reason: string }): void {
    if (this.status.state === 'stopped') return;
    const wasReady = this.status.state === 'ready';
    // Only a connection that held for stableMs starts the backoff over; one
    // that was ready only briefly counts as another failed attempt.
    if (wasReady && Date.now() - this.readySince >= this.opts.stableMs) this.failures = 0;
    const delay = backoffDelay(this.failures, this.opts.backoff, this.opts.random);
    this.failures += 1;
    const attempt = wasReady ? 0 : this.status.attempt;
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
    this.setStatus({ state: 'waiting', attempt: attempt + 1, retryAt: Date.now() + delay, lastClose });
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    this.clearRetry();
    this.stopPing();
    this.clearHandshake();
    this.clearReclaim();
  }

  /** Asks for the wanted name back; the server answers renamed or name_taken. */
  private reclaim(): void {
    if (this.wanted === null || this.status.state !== 'ready') return;
    if (this.raw({ action: 'setName', name: this.wanted, ref: RECLAIM_REF })) this.awaitAnswer('no answer to setName');
  }

  private giveUpReclaim(): void {
    this.wanted = null;
    this.clearReclaim();
  }

  private clearReclaim(): void {
    for (const t of this.reclaimTimers) clearTimeout(t);
    this.reclaimTimers = [];
  }

  private setStatus(s: Status): void {
    this.status = s;
    this.events.status?.({ ...s });
  }

  private emitOutbox(item: OutboxItem): void {
    this.events.outbox?.({ ...item });
  }
}
