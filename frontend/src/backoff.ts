// How long the client waits before it reconnects: exponential growth with
// jitter, and a schedule that starts over only after a connection that held.

export interface Backoff {
  /** Delay before the first retry, before jitter. Default 1000 ms. */
  initialMs: number;
  /**
   * Upper bound of any delay. Default 10000 ms: after an outage a page is back
   * at most about 10 s after the server answers again (30 s before: up to 30 s;
   * docs/frontend.md has the measurement), for one attempt per page every
   * 5–10 s while the server is down.
   */
  maxMs: number;
  /** Growth per failed attempt. Default 2. */
  factor: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 10_000, factor: 2 };

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
 * The delays of one client's reconnects. They grow with every failed attempt,
 * and start over only once a connection stayed ready stableMs: one that is
 * ready only briefly (say, a state then not_connected) counts as another
 * failure, so a server that drops every connection at once is not hit about
 * once a second forever.
 */
export class RetrySchedule {
  private readonly backoff: Backoff;
  /** Failed attempts since the last connection that stayed ready stableMs. */
  private failures = 0;
  /** Date.now() when the current connection became ready. */
  private readySince = 0;

  constructor(
    backoff: Partial<Backoff> = {},
    private readonly stableMs: number,
    private readonly random: () => number,
  ) {
    const initialMs = backoff.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.backoff = {
      initialMs,
      // A first delay longer than the bound (?backoff=MS) is meant in full.
      maxMs: Math.max(backoff.maxMs ?? DEFAULT_BACKOFF.maxMs, initialMs),
      factor: backoff.factor ?? DEFAULT_BACKOFF.factor,
    };
  }

  /** Back to the first delay (the client was started again). */
  reset(): void {
    this.failures = 0;
  }

  /** The connection became ready just now. */
  ready(): void {
    this.readySince = Date.now();
  }

  /** The wait before the next attempt; wasReady says the connection that just ended had become ready. */
  next(wasReady: boolean): number {
    if (wasReady && Date.now() - this.readySince >= this.stableMs) this.failures = 0;
    const delay = backoffDelay(this.failures, this.backoff, this.random);
    this.failures += 1;
    return delay;
  }
}
