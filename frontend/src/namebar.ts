// "You are …" with *Change name*: the rename form, its checks against the
// room's limits, and the one place where name errors and warnings are shown.

import type { OutboxItem } from './client';
import { byId } from './dom';
import { codePoints, type Limits } from './protocol';

export interface NameBarHooks {
  you(): string;
  limits(): Limits;
  /** A name that passed the checks: ask the server for it. */
  rename(name: string): void;
  /** The form closed after a rename: focus goes back to the composer. */
  renamed(): void;
}

export class NameBar {
  private readonly myName = byId('my-name');
  private readonly form = byId<HTMLFormElement>('name-form');
  private readonly input = byId<HTMLInputElement>('name-input');
  private readonly editButton = byId<HTMLButtonElement>('name-edit');
  private readonly save = byId<HTMLButtonElement>('name-save');
  private readonly cancel = byId<HTMLButtonElement>('name-cancel');
  private readonly errorEl = byId('name-error');

  constructor(private readonly hooks: NameBarHooks) {
    this.editButton.addEventListener('click', () => this.edit(true));
    this.cancel.addEventListener('click', () => this.edit(false));
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.edit(false);
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** The name shown as yours ("a guest" until the server names you). */
  show(name: string): void {
    this.myName.textContent = name;
  }

  /** The longest name the form takes (the room's limits arrived). */
  setMaxLength(n: number): void {
    this.input.maxLength = n;
  }

  /** An error or warning about the name; '' clears it. */
  error(text: string): void {
    this.errorEl.textContent = text;
  }

  /** Opens (with your name selected) or closes the rename form. */
  edit(on: boolean): void {
    this.input.hidden = !on;
    this.save.hidden = !on;
    this.cancel.hidden = !on;
    this.editButton.hidden = on;
    this.myName.hidden = on;
    if (on) {
      this.input.value = this.hooks.you();
      this.input.focus();
      this.input.select();
    }
  }

  /** A setName outbox item changed state. */
  outbox(item: OutboxItem): void {
    if (item.state === 'failed') this.error(item.error?.message ?? 'The name was refused.');
    else if (item.state === 'queued') this.error('Not connected: the new name is sent when the connection is back.');
    else if (item.state === 'unconfirmed') this.error('The connection dropped before the server answered; try the new name again.');
    else if (item.state === 'done' && item.echo) this.error('');
  }

  private submit(): void {
    const name = this.input.value.trim();
    if (!name) {
      this.error('A name needs at least one character.');
      return;
    }
    const limits = this.hooks.limits();
    if (codePoints(name) > limits.nameMax || new TextEncoder().encode(name).length > limits.nameMaxBytes) {
      this.error(`A name has at most ${limits.nameMax} characters (${limits.nameMaxBytes} bytes).`);
      return;
    }
    this.error('');
    this.hooks.rename(name);
    this.edit(false);
    this.hooks.renamed();
  }
}
