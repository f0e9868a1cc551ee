// Deleting one's account, in an order where nothing is lost silently: the
// person confirms first (nothing is sent otherwise); the frame goes out on the
// open connection and its answer, accountDeleted, is awaited (the server has
// then closed every connection of the account, released its names and
// forgotten its records: docs/protocol.md, *Deleting an account*); only then
// does the page leave and delete the sign-in account (Amplify's deleteUser).
// Not connected, no answer, or an error answer: nothing more is done and the
// person is told. The sign-in account not deleted: the chat account is gone,
// and the person is told to sign in and try again.

/** How long the page waits for the server's answer. */
export const DELETE_WAIT_MS = 15_000;

/** What the person is asked before anything is sent. */
export const DELETE_QUESTION =
  'Delete your account? Your names are released at once, every device of yours is disconnected, and you cannot sign in again. Your messages stay in the rooms under the name you sent them with.';

export type DeleteAnswer = { deleted: true } | { deleted: false; message: string };

/** What deleting the account needs of the page. */
export interface DeleteSteps {
  /** Asks the person; false: nothing is done. */
  confirm(question: string): boolean;
  /** Sends deleteAccount on the open connection; false when it is not connected. */
  send(): boolean;
  /** The answer: accountDeleted, or an error frame's text. */
  answer(): Promise<DeleteAnswer>;
  /** Leaves the room and forgets the session's resumable state. */
  leave(): void;
  /** Deletes the sign-in account (Cognito's DeleteUser); rejects when it failed. */
  deleteUser(): Promise<void>;
}

export type DeleteOutcome = { ok: true } | { ok: false; cancelled?: true; problem: string };

export async function deleteAccount(s: DeleteSteps): Promise<DeleteOutcome> {
  if (!s.confirm(DELETE_QUESTION)) return { ok: false, cancelled: true, problem: '' };
  if (!s.send()) {
    return { ok: false, problem: 'Not connected: your account was not deleted. Try again when the connection is back.' };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), DELETE_WAIT_MS);
  });
  const answer = await Promise.race([s.answer(), timeout]);
  clearTimeout(timer);
  if (answer === null) {
    return { ok: false, problem: 'No answer from the server: your account may not be deleted. Sign in and try again.' };
  }
  if (!answer.deleted) return { ok: false, problem: `Your account was not deleted: ${answer.message}` };
  s.leave();
  try {
    await s.deleteUser();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      problem: `Your chat account is deleted, but your sign-in could not be (${why}). Sign in and delete it again.`,
    };
  }
  return { ok: true };
}
