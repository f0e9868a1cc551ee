// Editing your own message (edit, issue 26 item 2): an "Edit" button on your
// own messages while the server still allows it (EDIT_WINDOW_MS after
// sending; it goes away then), a form in the message's place (Enter or Save
// sends, Shift+Enter is a new line, Escape or Cancel gives up and gives the
// focus back to the button), and the "(edited)" mark. The text changes when
// the server's edited frame comes, for everyone at once; a refusal
// (edit_expired, …) is said in the log.

import { el } from './dom';
import { NOT_EDITED } from './editsend';
import { EDIT_WINDOW_MS } from './protocol';

/** Whether a message sent at ts may still be edited (by this page's clock). */
export function editable(ts: number, now = Date.now()): boolean {
  return now - ts < EDIT_WINDOW_MS;
}

/** The mark of an edited message, with the time of its last edit. */
export function editedMark(edited: number): HTMLElement {
  return el('span', { class: 'edited', text: '(edited)', attrs: { title: `Edited ${new Date(edited).toLocaleString()}` } });
}

export interface EditTarget {
  id: string;
  ts: number;
  /** The text as it is now. */
  message: string;
  /** The message's body, which the form stands in for while it is open. */
  body: HTMLElement;
  /** The most characters the text may have. */
  max: number;
  /** Sends the edit; false: not connected. */
  send(id: string, message: string): boolean;
  /** Says something in the log (not connected). */
  say(text: string): void;
}

/** The Edit button of one of your messages: it opens the form, and goes away when the window closes. */
export function editButton(t: EditTarget): HTMLButtonElement {
  const button = el('button', { class: 'link edit', text: 'Edit', attrs: { type: 'button', 'aria-label': 'Edit this message' } });
  button.addEventListener('click', () => openForm(t, button));
  const left = EDIT_WINDOW_MS - (Date.now() - t.ts);
  setTimeout(() => {
    if (!button.contains(document.activeElement)) button.remove();
    else button.addEventListener('blur', () => button.remove(), { once: true });
  }, Math.max(0, left));
  return button;
}

function openForm(t: EditTarget, button: HTMLButtonElement): void {
  const input = el('textarea', { class: 'edit-text', attrs: { 'aria-label': 'Edit your message', rows: '2', maxlength: String(t.max * 2) } });
  input.value = t.message;
  const save = el('button', { class: 'link', text: 'Save', attrs: { type: 'submit' } });
  const cancel = el('button', { class: 'link', text: 'Cancel', attrs: { type: 'button' } });
  const form = el('form', { class: 'edit-form' }, input, el('span', { class: 'edit-actions' }, save, ' ', cancel));
  const close = () => {
    form.replaceWith(t.body);
    button.hidden = false;
    button.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (text !== t.message && !t.send(t.id, text)) t.say(NOT_EDITED);
    close();
  });
  cancel.addEventListener('click', close);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  button.hidden = true;
  t.body.replaceWith(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}
