// The join form: name and room, prefilled from ?name= and ?room= or from what
// this browser last joined with, and the room name checked before connecting.

import { byId } from './dom';
import { normalizeRoom } from './protocol';

const STORAGE_KEY = 'groupchat.join';

/**
 * What the form says it does with the name. Without sign-in the name is this
 * visit's; with sign-in the name belongs to the account (docs/protocol.md,
 * "Names with sign-in"): the server reads the field only on the account's
 * very first connection, and ignores it after that, so the form says so
 * instead of promising a guest name.
 */
export function joinNameHint(signedIn: { username: string } | null): string {
  if (!signedIn) return 'Leave it empty for a guest name; you can change it later.';
  return (
    `Your name is your account's, in every room: at first your username, ${signedIn.username}. ` +
    'A name typed here is taken only on your account\'s first visit, if nobody has it; ' +
    'after that this field is not used, and you change your name with "Change name" in the room.'
  );
}

export class JoinForm {
  private readonly view = byId('join');
  private readonly form = byId<HTMLFormElement>('join-form');
  private readonly name = byId<HTMLInputElement>('join-name');
  private readonly room = byId<HTMLInputElement>('join-room');
  private readonly errorEl = byId('join-error');
  private readonly hint = byId('join-name-hint');

  /** join is called with the trimmed name ('' for a guest) and the normalized room. */
  constructor(join: (name: string, room: string) => void) {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit(join);
    });
  }

  /**
   * Fills the form from the page's query, else from the last join, but never
   * over what the person typed while the page was still loading (the form is
   * on screen before the script has its config), and never moving the cursor
   * away from a field they are in.
   */
  prefill(): void {
    const q = new URL(window.location.href).searchParams;
    let saved: { name?: string; room?: string } = {};
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') ?? {};
    } catch {
      // Private mode or a corrupt entry: start empty.
    }
    const typed = (el: HTMLInputElement): boolean => el.value !== el.defaultValue;
    if (!typed(this.name)) this.name.value = q.get('name') ?? saved.name ?? '';
    if (!typed(this.room)) this.room.value = q.get('room') ?? saved.room ?? 'lobby';
    if (!this.form.contains(document.activeElement)) this.name.focus();
    this.form.dataset.ready = ''; // the form is wired: the browser tests wait for it
  }

  hide(): void {
    this.view.hidden = true;
  }

  /** Whose the name will be: signed in as username, or nobody (null); the hint follows. */
  account(username: string | null): void {
    this.hint.textContent = joinNameHint(username === null ? null : { username });
  }

  /** Shows the form (after signing in), with nameIfEmpty in the name field unless it has one. */
  reveal(nameIfEmpty: string): void {
    this.view.hidden = false;
    if (!this.name.value.trim()) this.name.value = nameIfEmpty;
    this.name.focus();
  }

  /** Shows the form again (after leaving), with the name you had, and why (a moderator closed the room). */
  show(name: string, why = ''): void {
    this.view.hidden = false;
    this.errorEl.textContent = why;
    this.name.value = name;
    this.name.focus();
  }

  private submit(join: (name: string, room: string) => void): void {
    const name = this.name.value.trim();
    const room = normalizeRoom(this.room.value);
    if (room === null) {
      this.errorEl.textContent = 'A room name is 1–32 letters a–z, digits, "_" or "-", starting with a letter or digit.';
      this.room.focus();
      return;
    }
    this.errorEl.textContent = '';
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ name, room }));
    } catch {
      // Not remembering is fine.
    }
    join(name, room);
  }
}
