// Sign-in as the page sees it: the narrow interface it signs in, signs out
// and gets ID tokens through. amplify-auth.ts implements it with Amplify JS
// (loaded only when config.json asks for sign-in); the unit tests put a fake
// behind it. Nothing here imports the library.

/** An ID token and when it expires (ms since the epoch, from its exp claim). */
export interface IdToken {
  jwt: string;
  expiresAt: number;
}

/**
 * What signing in asks for next: nothing (signed in); the code that confirms
 * a new account; a password of one's own (an invited account's first sign-in
 * with its temporary password); the code of one's authenticator app (an
 * account with TOTP on).
 */
export type SignInStep = 'done' | 'confirmSignUp' | 'newPassword' | 'totpCode';

export interface Auth {
  /** The signed-in account's username, or null: never signed in, signed out, or a session that can no longer be renewed. */
  currentUser(): Promise<string | null>;
  /** Rejects with AuthProblem (wrong password, unknown account, …) carrying a sentence for the person. */
  signIn(username: string, password: string): Promise<SignInStep>;
  /** Answers the step signIn (or the last answer) asked for, newPassword or totpCode; says what comes next. */
  answer(response: string): Promise<SignInStep>;
  /** Creates an account; it is confirmed with the code the pool sends (confirmSignUp). */
  signUp(username: string, password: string, email: string): Promise<void>;
  confirmSignUp(username: string, code: string): Promise<void>;
  /**
   * Forgets the session on this browser (and revokes its refresh token where the pool can); global: revokes
   * every refresh token of the account, on every device (Cognito's global sign-out). Rejects only when a global
   * sign-out failed as far as the library says (the session here is forgotten all the same).
   */
  signOut(opts?: { global?: boolean }): Promise<void>;
  /** Deletes the signed-in account from the pool (Cognito's DeleteUser) and forgets its tokens; rejects with AuthProblem when it failed. */
  deleteUser(): Promise<void>;
  /**
   * The ID token to connect with. fresh: renewed from the issuer now, even
   * if the stored one is still valid. Rejects with SessionEnded when there
   * is no session any more (signed out, or the renewal was refused); any
   * other rejection is passing (the issuer could not be reached).
   */
  idToken(opts: { fresh: boolean }): Promise<IdToken>;
}

/** There is no session to connect with: the person has to sign in (again). */
export class SessionEnded extends Error {
  constructor(message = 'no session') {
    super(message);
    this.name = 'SessionEnded';
  }
}

/** A sign-in, sign-up or confirmation the pool refused; message is for the person. */
export class AuthProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthProblem';
  }
}

/** The text for anything an Auth call rejected with. */
export function problemText(err: unknown): string {
  if (err instanceof AuthProblem) return err.message;
  return 'Something went wrong while signing in. Try again.';
}
