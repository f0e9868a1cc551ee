// Fakes shared by the unit tests: a WebSocket driven by the test as the
// server (it answers the settle hello by itself unless told not to), and a
// wire that records what the outbox or the session put on it.
import type { ClientFrame } from '../src/protocol';
import type { SocketLike, Wire } from '../src/wire';

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /**
   * Whether a hello after a state (the settle hello) is answered, 1 ms later,
   * with the last state the test sent, as the server would. The first hello
   * is always the test's to answer.
   */
  answersHello = true;
  private lastState: object | null = null;
  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    const frame = JSON.parse(data);
    this.sent.push(frame);
    const answer = this.lastState;
    if (frame.action === 'hello' && answer && this.answersHello) {
      setTimeout(() => {
        if (this.readyState === 1) this.receive(answer);
      }, 1);
    }
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  // Test drivers: what the server side does.
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: object | string): void {
    if (typeof frame === 'object' && (frame as { type?: unknown }).type === 'state') this.lastState = frame;
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  serverClose(code = 1001, reason = 'going away'): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  actions(): unknown[] {
    return this.sent.map((f) => f.action);
  }
}

/** A connection as the outbox and the session see it: ready or not, and what went out. */
export class FakeWire implements Wire {
  ready = false;
  /** When false, send fails as on a socket that is not open. */
  open = true;
  sent: ClientFrame[] = [];

  send(frame: ClientFrame): boolean {
    if (!this.open) return false;
    this.sent.push(frame);
    return true;
  }
  actions(): string[] {
    return this.sent.map((f) => f.action);
  }
}

export const limits = { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 };

/** A state frame as the server sends it on joining. */
export function state(you: string, extra: object = {}) {
  return { type: 'state', room: 'lobby', you, members: [you], history: [], limits, ...extra };
}
