// Who is signed in on this page, and what the page shows for it: the sign-in
// form (with why you are there, when it was not your choice), the sign-up
// code to confirm, or the signed-in account. No DOM: the page renders each
// view (app.ts, signinform.ts); the unit tests drive it with a fake Auth.

import { problemText, type Auth } from './auth';
import type { EndReason } from './tokens';

export type AccountView =
  /** Finding out whether a session is stored (the first moments of the page). */
  | { kind: 'checking' }
  | { kind: 'signIn'; notice?: string; username?: string }
  /** A new account waits for the code the pool sent. */
  | { kind: 'confirm'; username: string }
  | { kind: 'signedIn'; username: string };

/** What the sign-in form says when the session ended without the person signing out. */
export const ENDED_NOTICE: Record<EndReason, string> = {
  expired: 'Your session has ended. Sign in again.',
  refused: 'The chat server did not accept your sign-in. Sign in again.',
};

export class Account {
  private current: AccountView = { kind: 'checking' };

  constructor(
    private readonly auth: Auth,
    private readonly show: (view: AccountView) => void,
  ) {}

  get view(): AccountView {
    return this.current;
  }

  get username(): string | null {
    return this.current.kind === 'signedIn' ? this.current.username : null;
  }

  /** At start: a stored session that can still be renewed signs the page in. */
  async resume(): Promise<void> {
    this.set({ kind: 'checking' });
    try {
      const user = await this.auth.currentUser();
      this.set(user ? { kind: 'signedIn', username: user } : { kind: 'signIn' });
    } catch (err) {
      this.set({ kind: 'signIn', notice: problemText(err) });
    }
  }

  /** Resolves to the error to show under the form, or null once signed in (or asked to confirm). */
  async signIn(username: string, password: string): Promise<string | null> {
    try {
      const step = await this.auth.signIn(username, password);
      if (step === 'confirmSignUp') {
        this.set({ kind: 'confirm', username });
        return null;
      }
      const user = (await this.auth.currentUser()) ?? username;
      this.set({ kind: 'signedIn', username: user });
      return null;
    } catch (err) {
      return problemText(err);
    }
  }

  async signUp(username: string, password: string, email: string): Promise<string | null> {
    try {
      await this.auth.signUp(username, password, email);
      this.set({ kind: 'confirm', username });
      return null;
    } catch (err) {
      return problemText(err);
    }
  }

  /** The code confirms the account; then the person signs in (the page never kept the password). */
  async confirm(code: string): Promise<string | null> {
    if (this.current.kind !== 'confirm') return null;
    const username = this.current.username;
    try {
      await this.auth.confirmSignUp(username, code);
      this.set({ kind: 'signIn', username, notice: 'Your account is confirmed. Sign in.' });
      return null;
    } catch (err) {
      return problemText(err);
    }
  }

  /** The person signed out. */
  async signOut(): Promise<void> {
    const username = this.username ?? undefined;
    await this.auth.signOut();
    this.set({ kind: 'signIn', username });
  }

  /** The session ended on its own (tokens.ts): forget it and ask to sign in again, saying why. */
  async ended(why: EndReason): Promise<void> {
    const username = this.username ?? undefined;
    await this.auth.signOut();
    this.set({ kind: 'signIn', username, notice: ENDED_NOTICE[why] });
  }

  private set(view: AccountView): void {
    this.current = view;
    this.show(view);
  }
}
