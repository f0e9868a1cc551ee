// Connection keeps one WebSocket to the chat alive, and nothing more: it opens
// the socket, says hello, pings against API Gateway's idle timeout, notices a
// dead connection (a socket that never opens, a hello or any frame sent that
// gets no answer: half-open), and reconnects with exponential backoff and
// jitter. Once ready it asks for the state once more a little later (the
// settle hello, below). What the frames mean is the owner's business: it hands
// over every text message, tells when the socket is lost, and is told when the
// state arrived (the connection is then ready).

import { RetrySchedule, type Backoff } from './backoff';
import { Alarm, Heartbeat } from './heartbeat';
import type { ClientFrame } from './protocol';
import type { SocketFactory, SocketLike, Wire } from './wire';
import { Action } from './protocol.gen';

const OPEN = 1;

/**
 * How long after a connection's first state it says hello again (the settle
 * hello). The server reads the room's members from a DynamoDB global secondary
 * index, which is eventually consistent: our state may miss someone who joined
 * just before us, and the `joined` of someone who joined just after may not
 * reach us. Propagation is typically well under a second, so a state this much
 * later lists them both; it costs one hello per connect.
 */
export const SETTLE_HELLO_MS = 2_000;

export interface CloseReason {
  code: number;
  reason: string;
  /**
   * The socket closed before it ever opened: the server (or something on the
   * way) refused the handshake, or could not be reached. A browser is not
   * told which, nor the HTTP status.
   */
  beforeOpen?: true;
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
  lastClose?: CloseReason;
}

export interface ConnectionOptions {
  socket?: SocketFactory;
  /** App-level ping period, well inside API Gateway's 10-minute idle timeout. Default 4 minutes. */
  pingIntervalMs?: number;
  /**
   * A ping, or any other frame sent, unanswered this long means the connection
   * is dead. Default 20 s. A socket that does not open this long, or a hello
   * unanswered by a state this long, is treated the same way.
   */
  pongTimeoutMs?: number;
  /** A connection must stay ready this long for the backoff to start over (see RetrySchedule). Default 30 s. */
  stableMs?: number;
  backoff?: Partial<Backoff>;
  random?: () => number;
}

export interface ConnectionHooks {
  /**
   * The URL for the next socket: the name and the resume token may have
   * changed since the last. last is why the previous socket of this run
   * closed, if one did. A promise (the page fetches a sign-in token first)
   * counts against the time the socket has to open; when it rejects, the
   * attempt failed and is retried with the backoff.
   */
  url(last?: CloseReason): string | Promise<string>;
  /** A text message from the server on the current socket. */
  message(text: string): void;
  /** The socket is gone (closed, dropped or stopped): what was sent on it may never be answered. */
  lost(): void;
  status(status: Status): void;
}

export class Connection implements Wire {
  private readonly socketFactory: SocketFactory;
  private readonly pongTimeoutMs: number;
  private readonly schedule: RetrySchedule;
  private readonly heartbeat: Heartbeat;
  private socket: SocketLike | null = null;
  private status: Status = { state: 'stopped', attempt: 0 };
  private readonly retry = new Alarm();
  /**
   * Runs from open() until the state arrives, pongTimeoutMs for each step: for
   * the socket to open, then (started again at onopen) for hello's answer.
   * Firing means the attempt failed: drop it and retry with the backoff.
   */
  private readonly handshake = new Alarm();
  /** Sends the settle hello, once per socket: started by its first state. */
  private readonly settle = new Alarm();
  /** Counts open() calls: a URL that arrives after its attempt was given up is dropped. */
  private attempts = 0;

  constructor(options: ConnectionOptions, private readonly hooks: ConnectionHooks) {
    this.socketFactory = options.socket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.pongTimeoutMs = options.pongTimeoutMs ?? 20_000;
    this.schedule = new RetrySchedule(options.backoff, options.stableMs ?? 30_000, options.random ?? Math.random);
    this.heartbeat = new Heartbeat(
      { intervalMs: options.pingIntervalMs ?? 4 * 60_000, timeoutMs: this.pongTimeoutMs },
      () => this.send({ action: Action.Ping }),
      (reason) => this.drop({ code: 4001, reason }),
    );
  }

  get state(): Status {
    return { ...this.status };
  }

  get ready(): boolean {
    return this.status.state === 'ready';
  }

  start(): void {
    if (this.status.state !== 'stopped') return;
    this.status = { state: 'stopped', attempt: 0 };
    this.schedule.reset();
    this.open();
  }

  /** Closes for good (until start()). */
  stop(): void {
    this.retry.stop();
    const s = this.socket;
    this.detach();
    if (s) s.close(1000, 'bye');
    this.hooks.lost();
    this.setStatus({ state: 'stopped', attempt: 0 });
  }

  /** Skips the wait of a scheduled retry (for a "retry now" button or the browser's online event). */
  reconnectNow(): void {
    if (this.status.state !== 'waiting') return;
    this.retry.stop();
    this.open();
  }

  /**
   * Pings at once when ready (the page calls it when the network comes back or
   * the page becomes visible again): a connection that died meanwhile is then
   * noticed within the answer timeout, not at the next keep-alive ping.
   */
  pingNow(): void {
    if (this.status.state !== 'ready') return;
    this.send({ action: Action.Ping });
  }

  send(frame: ClientFrame): boolean {
    if (!this.raw(frame)) return false;
    this.heartbeat.sent(frame.action);
    return true;
  }

  /** A well-formed frame arrived: the connection is alive. */
  answered(): void {
    this.heartbeat.answered();
  }

  /**
   * The state arrived. The first on a socket makes the connection ready, kept
   * alive by pings from now on, and asks for the state once more
   * SETTLE_HELLO_MS later; a later one (the answer to that) changes nothing.
   */
  joined(): void {
    if (this.status.state === 'ready') return;
    this.handshake.stop();
    this.schedule.ready();
    this.setStatus({ state: 'ready', attempt: 0 });
    this.heartbeat.start();
    this.settle.start(SETTLE_HELLO_MS, () => this.send({ action: Action.Hello }));
  }

  /**
   * Abandons the current socket without waiting for its close handshake, and
   * retries with the backoff, or after notBeforeMs if that is later (the
   * server said when it will let the connection in: rate_limited's
   * retryAfterMs).
   */
  drop(why: CloseReason, notBeforeMs = 0): void {
    const s = this.socket;
    this.detach();
    if (s) {
      try {
        s.close(1000, why.reason);
      } catch {
        // Already closing.
      }
    }
    this.hooks.lost();
    this.scheduleRetry(why, notBeforeMs);
  }

  private open(): void {
    const attempt = ++this.attempts;
    const last = this.status.lastClose;
    this.setStatus({ ...this.status, state: 'connecting', retryAt: undefined });
    // A handshake that never completes (a dead network path, a proxy that
    // swallows the upgrade, a token that never comes) would otherwise leave
    // the page connecting for as long as the browser cares to wait.
    this.failAfterTimeout({ code: 4004, reason: 'no answer to connect' });
    let url: string | Promise<string>;
    try {
      url = this.hooks.url(last);
    } catch {
      this.invalidUrl();
      return;
    }
    if (typeof url === 'string') {
      this.connect(url);
      return;
    }
    const current = () => attempt === this.attempts && this.status.state === 'connecting' && this.socket === null;
    url.then(
      (u) => {
        if (current()) this.connect(u);
      },
      (err: unknown) => {
        if (!current()) return;
        this.handshake.stop();
        this.scheduleRetry({ code: 0, reason: `no URL: ${err instanceof Error ? err.message : String(err)}` });
      },
    );
  }

  /** A malformed URL does not get better by retrying, but the page may be given another one: keep the loop so the state stays visible. */
  private invalidUrl(): void {
    this.handshake.stop();
    this.scheduleRetry({ code: 0, reason: 'invalid WebSocket URL' });
  }

  private connect(url: string): void {
    let socket: SocketLike;
    try {
      socket = this.socketFactory(url);
    } catch {
      this.invalidUrl();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.setStatus({ ...this.status, state: 'joining' });
      this.raw({ action: Action.Hello });
      // Without a state the connection is useless (nothing may be sent before
      // it), and API Gateway would keep it open for 10 idle minutes.
      this.failAfterTimeout({ code: 4002, reason: 'no answer to hello' });
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      if (typeof ev.data === 'string') this.hooks.message(ev.data);
    };
    socket.onerror = () => {
      // The close event that follows carries the information.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.detach();
      this.hooks.lost();
      this.scheduleRetry({ code: ev.code, reason: ev.reason, ...(opened ? {} : { beforeOpen: true as const }) });
    };
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

  private failAfterTimeout(why: CloseReason): void {
    this.handshake.start(this.pongTimeoutMs, () => this.drop(why));
  }

  /** Forgets the current socket and every timer that belongs to it. */
  private detach(): void {
    const s = this.socket;
    if (s) {
      s.onopen = s.onmessage = s.onerror = s.onclose = null;
    }
    this.socket = null;
    this.heartbeat.stop();
    this.handshake.stop();
    this.settle.stop();
  }

  private scheduleRetry(lastClose: CloseReason, notBeforeMs = 0): void {
    if (this.status.state === 'stopped') return;
    const wasReady = this.status.state === 'ready';
    const delay = Math.max(this.schedule.next(wasReady), notBeforeMs);
    const attempt = wasReady ? 0 : this.status.attempt;
    this.retry.start(delay, () => this.open());
    this.setStatus({ state: 'waiting', attempt: attempt + 1, retryAt: Date.now() + delay, lastClose });
  }

  private setStatus(s: Status): void {
    this.status = s;
    this.hooks.status({ ...s });
  }
}
