// The composer: the message box (Enter sends, Shift+Enter adds a line), the
// counter of code points against the room's limit, and the checks that keep an
// over-long message or too many recipients from being sent. The box grows
// with its text up to its CSS max-height, and Send on an empty box says why
// nothing happened.

import { byId } from './dom';
import { MentionPicker } from './mentionpicker';
import { codePoints, type ClientFrame, type Limits } from './protocol';
import { Action } from './protocol.gen';

/** What Send on an empty box says. */
export const EMPTY_MESSAGE = 'Nothing to send yet: type a message first.';

export type MessageFrame = Extract<ClientFrame, { action: typeof Action.SendPublic | typeof Action.SendPrivate }>;

export class Composer {
  private readonly form = byId<HTMLFormElement>('composer');
  private readonly message = byId<HTMLTextAreaElement>('message');
  private readonly counter = byId('counter');
  private readonly errorEl = byId('send-error');

  private readonly picker: MentionPicker | null;

  /** limits gives the room's bounds; submit is called on Enter or Send; typed with the text after each change; names are whom `@` completes. */
  constructor(
    private readonly limits: () => Limits,
    submit: () => void,
    typed?: (text: string) => void,
    names?: () => { names: readonly string[]; you: string },
  ) {
    const changed = () => {
      typed?.(this.message.value);
      this.updateCounter();
      this.fit();
      if (this.errorEl.textContent === EMPTY_MESSAGE && this.message.value.trim()) this.error('');
    };
    this.message.addEventListener('input', changed);
    this.picker = names ? new MentionPicker(this.message, () => ({ ...names(), nameMax: this.limits().nameMax }), changed) : null;
    this.message.addEventListener('keydown', (e) => {
      if (this.picker?.key(e)) return;
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    this.updateCounter();
  }

  focus(): void {
    this.message.focus();
  }

  /** An error about sending; '' clears it. */
  error(text: string): void {
    this.errorEl.textContent = text;
  }

  /**
   * The frame for what was typed, to everyone or privately to `to`; null when
   * there is nothing to send or it breaks the limits (the composer says why).
   */
  draft(to: string[]): MessageFrame | null {
    const message = this.message.value;
    if (!message.trim()) {
      this.error(EMPTY_MESSAGE);
      this.message.focus();
      return null;
    }
    const { messageMax, recipientsMax } = this.limits();
    const n = codePoints(message);
    if (n > messageMax) {
      this.error(`That is ${n} characters; a message has at most ${messageMax}.`);
      return null;
    }
    if (to.length > recipientsMax) {
      this.error(`A private message goes to at most ${recipientsMax} people.`);
      return null;
    }
    this.error('');
    return to.length ? { action: Action.SendPrivate, to, message } : { action: Action.SendPublic, message };
  }

  /** The member list changed: an open `@` list, or a name typed in the focused box, follows it. */
  namesChanged(): void {
    this.picker?.refresh();
  }

  /** The message went out: an empty box, ready for the next. */
  sent(): void {
    this.picker?.close();
    this.message.value = '';
    this.updateCounter();
    this.fit();
    this.message.focus();
  }

  /** Grows (or shrinks) the box to its text; CSS max-height bounds it, then it scrolls. */
  private fit(): void {
    const box = this.message;
    box.style.height = 'auto';
    box.style.height = `${box.scrollHeight + box.offsetHeight - box.clientHeight}px`;
  }

  /** Counts against the limit (it may have changed with the room's state). */
  updateCounter(): void {
    const n = codePoints(this.message.value);
    const max = this.limits().messageMax;
    this.counter.textContent = `${n} / ${max}`;
    this.counter.classList.toggle('over', n > max);
  }
}
