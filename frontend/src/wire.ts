// The narrow interfaces between the client's pieces: the part of the browser's
// WebSocket the connection uses, and the part of the connection the outbox and
// the session use. Tests put fakes behind both.

import type { ClientFrame } from './protocol';

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

/** What the outbox and the session need of the connection. */
export interface Wire {
  /** The state arrived on the current socket: frames other than hello may go out. */
  readonly ready: boolean;
  /** Puts a frame on the open socket and starts the answer timer; false when there is none. */
  send(frame: ClientFrame): boolean;
}
