// Who is signed in on this page, and what the page shows for it: the sign-in
// form (with why you are there, when it was not your choice), the sign-up
// code to confirm, or the signed-in account. No DOM: the page renders each
// view (app.ts, signinform.ts); the unit tests drive it with a fake Auth.

import { problemText, type Auth, type SignInStep } from './auth';
import type { EndReason } from './tokens';

export type AccountView =
  /** Finding out whether a session is stored (the first moments of the page). */
  | { kind: 'checking' }
  | { kind: 'signIn'; notice?: string; username?: string }
  /** A new account waits for the code the pool sent. */
  | { kind: 'confirm'; username: string }
  /** Signing in asks for a password of one's own (newPassword) or an authenticator code (totpCode). */
  | { kind: 'newPassword' | 'totpCode'; username: string }
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
      await this.next(await this.auth.signIn(username, password), username);
      return null;
    } catch (err) {
      return problemText(err);
    }
  }

  /** Answers the view's newPassword or totpCode step. */
  async answer(response: string): Promise<string | null> {
    const v = this.current;
    if (v.kind !== 'newPassword' && v.kind !== 'totpCode') return null;
    try {
      await this.next(await this.auth.answer(response), v.username);
      return null;
    } catch (err) {
      return problemText(err);
    }
  }

  /** Back to the sign-in form from a step (the attempt is abandoned). */
  async cancel(): Promise<void> {
    const username = 'username' in this.current ? this.current.username : undefined;
    await this.auth.signOut();
    this.set({ kind: 'signIn', username });
  }

  private async next(step: SignInStep, username: string): Promise<void> {
    switch (step) {
      case 'confirmSignUp':
        this.set({ kind: 'confirm', username });
        return;
      case 'newPassword':
      case 'totpCode':
        this.set({ kind: step, username });
        return;
      case 'done':
        this.set({ kind: 'signedIn', username: (await this.auth.currentUser()) ?? username });
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

  /**
   * The person signed out (everywhere: every refresh token of the account
   * revoked, on every device). The tokens here are forgotten either way; a
   * revocation that failed rejects, for the page to say so (notice).
   */
  async signOut(everywhere = false): Promise<void> {
    const username = this.username ?? undefined;
    try {
      await this.auth.signOut({ global: everywhere });
    } finally {
      this.set({ kind: 'signIn', username });
    }
  }

  /**
   * The chat account was deleted (deleteAccount answered): the sign-in
   * account is deleted too, and the sign-in form says so. Rejects when the
   * pool could not delete it (the page says so: notice).
   */
  async deleteUser(): Promise<void> {
    await this.auth.deleteUser();
    this.set({ kind: 'signIn', notice: 'Your account is deleted.' });
  }

  /** Shows a notice on the sign-in form. */
  notice(text: string): void {
    if (this.current.kind === 'signIn') this.set({ ...this.current, notice: text });
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
