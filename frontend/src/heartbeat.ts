// Is the connection alive? A socket can look open while nothing comes back
// (half-open: a laptop slept, a NAT forgot the flow), and API Gateway closes a
// connection after 10 idle minutes. The heartbeat pings on a period, and
// whenever a frame goes out (a ping or anything the user sends) the server has
// a deadline to send anything at all; missing it means the connection is dead.

/** One timeout at a time: starting it again replaces the pending one. */
export class Alarm {
  private timer: ReturnType<typeof setTimeout> | null = null;

  get running(): boolean {
    return this.timer !== null;
  }

  start(ms: number, fire: () => void): void {
    this.stop();
    this.timer = setTimeout(() => {
      this.timer = null;
      fire();
    }, ms);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

export interface HeartbeatOptions {
  /** The keep-alive ping period. */
  intervalMs: number;
  /** How long a frame sent may go without any frame received. */
  timeoutMs: number;
}

export class Heartbeat {
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  /** Runs from the oldest frame sent that got no answer yet. */
  private readonly answer = new Alarm();

  /**
   * ping puts a ping on the wire (and reports it with sent); dead is called
   * with the reason when a deadline passes.
   */
  constructor(
    private readonly opts: HeartbeatOptions,
    private readonly ping: () => void,
    private readonly dead: (reason: string) => void,
  ) {}

  /** Pings every intervalMs from now on. */
  start(): void {
    this.stop();
    this.pingTimer = setInterval(this.ping, this.opts.intervalMs);
  }

  /** No more pings and no deadline: the socket is gone. */
  stop(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.answer.stop();
  }

  /**
   * A frame went out. Unless a deadline already runs (it counts from the
   * oldest unanswered frame; later ones do not push it back), the server has
   * timeoutMs to send anything at all.
   */
  sent(action: string): void {
    if (this.answer.running) return;
    this.answer.start(this.opts.timeoutMs, () => this.dead(`no answer to ${action}`));
  }

  /** A frame arrived: any frame proves the connection is alive, not only pong. */
  answered(): void {
    this.answer.stop();
  }
}
