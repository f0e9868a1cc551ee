// Sign out everywhere, in an order where no failure is silent: the frame
// first, on the open connection (the server records the sign-out, closes
// every connection of the account, this one last, and from then on refuses
// the account's older tokens); its answer awaited; then this page leaves the
// room and every refresh token of the account is revoked (Amplify's global
// sign-out), so no device can renew. Not connected, no answer, or an error
// answer: nothing more is done and the person is told to try again. The
// revocation refused: the connections are closed and this page is signed
// out, and the person is told the other devices may still renew.

/** How long the page waits for the server to close its connection. */
export const ANSWER_WAIT_MS = 10_000;

/** The server's answer to signOutEverywhere. */
export type EverywhereAnswer = { closed: true } | { closed: false; message: string };

/** What signing out everywhere needs of the page. */
export interface EverywhereSteps {
  /** Sends signOutEverywhere on the open connection; false when it is not connected. */
  send(): boolean;
  /** The answer: the server closed the connection (or said it was signed out already), or an error frame's text. */
  answer(): Promise<EverywhereAnswer>;
  /** Leaves the room and forgets the session's resumable state. */
  leave(): void;
  /** Revokes every refresh token of the account and forgets the tokens here; rejects when the revocation failed. */
  revoke(): Promise<void>;
}

export type EverywhereOutcome = { ok: true } | { ok: false; problem: string };

export async function signOutEverywhere(s: EverywhereSteps): Promise<EverywhereOutcome> {
  if (!s.send()) {
    return { ok: false, problem: 'Not connected: nothing was signed out. Try again when the connection is back.' };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ANSWER_WAIT_MS);
  });
  const answer = await Promise.race([s.answer(), timeout]);
  clearTimeout(timer);
  if (answer === null) {
    return { ok: false, problem: 'No answer from the server: your other devices may still be signed in. Try again.' };
  }
  if (!answer.closed) return { ok: false, problem: `Not signed out everywhere: ${answer.message}` };
  s.leave();
  try {
    await s.revoke();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      problem: `Your connections were closed and this page signed out, but your other devices could not be signed out of the sign-in service (${why}): they may sign in again without a password. Sign in and try again.`,
    };
  }
  return { ok: true };
}
