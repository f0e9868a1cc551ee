// "You are …" with *Change name*: the rename form, its checks against the
// room's limits, and the one place where name errors and warnings are shown.

import type { OutboxItem } from './client';
import { byId } from './dom';
import { nameInputMaxLength, nameTooLong, type Limits } from './protocol';

export interface NameBarHooks {
  you(): string;
  limits(): Limits;
  /** A name that passed the checks: ask the server for it; the ref of the outbox item, if one was made. */
  rename(name: string): string | undefined;
  /** The form closed after a rename: focus goes back to the composer. */
  renamed(): void;
}

/** What the rename form does with a setName outbox item: it stays open until the server agreed. */
export function renameOutcome(state: OutboxItem['state']): 'close' | 'stay-open' | 'wait' {
  if (state === 'done') return 'close';
  if (state === 'failed' || state === 'unconfirmed') return 'stay-open';
  return 'wait';
}

export class NameBar {
  private readonly myName = byId('my-name');
  private readonly form = byId<HTMLFormElement>('name-form');
  private readonly input = byId<HTMLInputElement>('name-input');
  private readonly editButton = byId<HTMLButtonElement>('name-edit');
  private readonly save = byId<HTMLButtonElement>('name-save');
  private readonly cancel = byId<HTMLButtonElement>('name-cancel');
  private readonly errorEl = byId('name-error');
  /** The ref of the rename the open form waits for. */
  private waitingFor: string | null = null;

  constructor(private readonly hooks: NameBarHooks) {
    this.editButton.addEventListener('click', () => this.edit(true));
    // Closing without renaming puts focus back on *Change name*, not on the page's body.
    this.cancel.addEventListener('click', () => this.close());
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
      }
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
  setMaxLength(limits: Limits): void {
    this.input.maxLength = nameInputMaxLength(limits);
  }

  /** An error or warning about the name; '' clears it. */
  error(text: string): void {
    this.errorEl.textContent = text;
  }

  /** Opens (with your name selected) or closes the rename form. */
  edit(on: boolean): void {
    this.save.disabled = false;
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
    if (item.ref !== this.waitingFor) return;
    // A refused name (say name_taken) leaves the form open with what was typed, to fix it.
    switch (renameOutcome(item.state)) {
      case 'close':
        this.waitingFor = null;
        if (!this.input.hidden) {
          this.edit(false);
          this.hooks.renamed();
        }
        break;
      case 'stay-open':
        this.waitingFor = null;
        this.save.disabled = false;
        if (!this.input.hidden) this.input.focus();
        break;
      case 'wait':
        break;
    }
  }

  private close(): void {
    this.waitingFor = null;
    this.error(''); // a refused name given up is no longer a problem
    this.edit(false);
    this.editButton.focus();
  }

  private submit(): void {
    const name = this.input.value.trim();
    if (!name) {
      this.error('A name needs at least one character.');
      return;
    }
    const limits = this.hooks.limits();
    const tooLong = nameTooLong(name, limits);
    if (tooLong !== null) {
      this.error(tooLong);
      return;
    }
    this.error('');
    const ref = this.hooks.rename(name);
    if (ref === undefined) {
      this.edit(false);
      this.hooks.renamed();
      return;
    }
    // The form stays open until the server answers: closed by the echo, kept by an error.
    this.waitingFor = ref;
    this.save.disabled = true;
  }
}
