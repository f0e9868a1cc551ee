// Staying in the room across a reload: the page keeps, for this tab only
// (sessionStorage), the room, the name and the resume token its next
// connection would present, and a reloaded page joins with them at once,
// without the join form. The server then hands the name over (the token is
// the one that holds it) and sends the person's own private conversation of
// the room back in the state (docs/protocol.md, "private"). Leaving the room
// or signing out forgets it. Another tab is another person: tokens are not
// shared between tabs, or two tabs would take the name from each other.

export const RESUME_KEY = 'groupchat.resume';

export interface Resumable {
  room: string;
  name: string;
  resume: string | null;
  /** With sign-in, whose it is: another account signed in on this tab does not resume it. */
  account?: string;
}

type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** The session to come back to, if this tab has one. */
export function loadResumable(store: Store | null, account?: string): Resumable | null {
  try {
    const v: unknown = JSON.parse(store?.getItem(RESUME_KEY) ?? 'null');
    if (typeof v !== 'object' || v === null) return null;
    const r = v as Record<string, unknown>;
    if (typeof r.room !== 'string' || !r.room || typeof r.name !== 'string') return null;
    if ((r.account ?? undefined) !== account) return null;
    return {
      room: r.room,
      name: r.name,
      resume: typeof r.resume === 'string' ? r.resume : null,
      ...(account !== undefined ? { account } : {}),
    };
  } catch {
    return null; // storage off, or an entry that is not ours
  }
}

export function saveResumable(store: Store | null, r: Resumable): void {
  try {
    store?.setItem(RESUME_KEY, JSON.stringify(r));
  } catch {
    // Storage full or off: a reload then shows the join form, as before.
  }
}

export function forgetResumable(store: Store | null): void {
  try {
    store?.removeItem(RESUME_KEY);
  } catch {
    // Nothing to forget.
  }
}

/** sessionStorage, or null where the browser refuses it. */
export function tabStorage(): Store | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
