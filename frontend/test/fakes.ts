// Fakes shared by the unit tests: a WebSocket driven by the test as the
// server (it answers the settle hello by itself unless told not to), a wire
// that records what the outbox or the session put on it, and the sign-in
// library behind the page's narrow Auth interface.
import { AuthProblem, SessionEnded, type Auth, type IdToken, type SignInStep } from '../src/auth';
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
  return { type: 'state', room: 'lobby', you, members: [you], history: [], private: [], roles: [], usernames: [], limits, ...extra };
}

/**
 * The auth library behind the page's narrow interface (src/auth.ts): one
 * account whose ID tokens the test controls. Tokens are "jwt-1", "jwt-2", …;
 * a fresh one is issued on { fresh: true }, or when the stored one expired.
 */
export class FakeAuth implements Auth {
  /** The signed-in account; null: no session. */
  user: string | null = 'alice';
  password = 'alice-pw';
  /** How long an issued token lives. */
  lifetimeMs = 60 * 60_000;
  /** A renewal is refused, as for a revoked or expired refresh token: the session ends. */
  refuseRenewal = false;
  /** The issuer cannot be reached: every call fails in passing. */
  offline = false;
  /**
   * A renewal fails in passing while the stored token is still handed out
   * (a restarted local issuer that no longer knows the app client: Amplify
   * keeps the session on anything but NotAuthorizedException).
   */
  renewalFailsInPassing = false;
  /** What signIn answers after a right password. */
  nextStep: SignInStep = 'done';
  /** What each answer() to a step answers next, in order; then 'done'. The response "wrong" is refused. */
  steps: SignInStep[] = [];
  private pending = '';
  calls: string[] = [];
  private issued = 0;
  private current: IdToken | null = null;

  async currentUser(): Promise<string | null> {
    this.calls.push('currentUser');
    if (this.offline) throw new AuthProblem('Cannot reach the sign-in service.');
    return this.user;
  }
  async signIn(username: string, password: string): Promise<SignInStep> {
    this.calls.push(`signIn:${username}`);
    if (this.offline) throw new AuthProblem('Cannot reach the sign-in service.');
    if (password !== this.password) throw new AuthProblem('Incorrect username or password.');
    this.pending = username;
    if (this.nextStep === 'done') this.signedIn();
    return this.nextStep;
  }
  async answer(response: string): Promise<SignInStep> {
    this.calls.push(`answer:${response}`);
    if (response === 'wrong') throw new AuthProblem('That code is not right.');
    const next = this.steps.shift() ?? 'done';
    if (next === 'done') this.signedIn();
    return next;
  }
  private signedIn(): void {
    this.user = this.pending;
    this.refuseRenewal = false;
    this.current = null;
  }
  async signUp(username: string): Promise<void> {
    this.calls.push(`signUp:${username}`);
  }
  async confirmSignUp(username: string, code: string): Promise<void> {
    this.calls.push(`confirmSignUp:${username}:${code}`);
    if (code !== '123456') throw new AuthProblem('That code is not right.');
  }
  /** A global sign-out fails (after forgetting the session here, as Amplify does). */
  failGlobalSignOut = false;
  async signOut(opts?: { global?: boolean }): Promise<void> {
    this.calls.push(opts?.global ? 'signOut:global' : 'signOut');
    this.user = null;
    this.current = null;
    if (opts?.global && this.failGlobalSignOut) throw new AuthProblem('Cannot reach the sign-in service.');
  }
  /** deleteUser fails (the pool could not be reached). */
  failDeleteUser = false;
  async deleteUser(): Promise<void> {
    this.calls.push('deleteUser');
    if (this.failDeleteUser) throw new AuthProblem('Cannot reach the sign-in service.');
    this.user = null;
    this.current = null;
  }
  async idToken({ fresh }: { fresh: boolean }): Promise<IdToken> {
    this.calls.push(fresh ? 'idToken:fresh' : 'idToken');
    if (this.offline) throw new AuthProblem('Cannot reach the sign-in service.');
    if (!this.user) throw new SessionEnded();
    const expired = !this.current || this.current.expiresAt <= Date.now();
    if (fresh || expired) {
      if (this.renewalFailsInPassing) throw new Error('ResourceNotFoundException');
      if (this.refuseRenewal) {
        this.user = null;
        this.current = null;
        throw new SessionEnded();
      }
      this.issued += 1;
      this.current = { jwt: `jwt-${this.issued}`, expiresAt: Date.now() + this.lifetimeMs };
    }
    return { ...this.current! };
  }
  /** Gives the stored token this long to live (as if issued a while ago). */
  expireIn(ms: number): void {
    if (this.current) this.current.expiresAt = Date.now() + ms;
  }
}
