// The `@name` completion under the message box (issue 26 #3): typing `@` and
// the start of a name lists the members whose names start so; the arrow keys
// move through the list, Enter or Tab puts the name in, Escape closes it, and
// a click on a name does the same. The box stays the focus (its
// aria-activedescendant points at the highlighted name) and a polite status
// says how many names match, so a screen reader hears the list.

import { byId, el } from './dom';
import { completeMention, mentionChoices, mentionQuery, type MentionQuery } from './mentions';

export class MentionPicker {
  private readonly list = el('ul', { class: 'mention-list', attrs: { id: 'mention-list', role: 'listbox', 'aria-label': 'Names to mention' } });
  private readonly hint = byId('mention-hint');
  private choices: string[] = [];
  private active = 0;
  private q: MentionQuery | null = null;

  constructor(
    private readonly box: HTMLTextAreaElement,
    private readonly people: () => { names: readonly string[]; you: string; nameMax: number },
    private readonly changed: () => void,
  ) {
    this.list.hidden = true;
    box.closest('.compose-row')?.before(this.list);
    box.setAttribute('aria-autocomplete', 'list');
    box.setAttribute('aria-controls', 'mention-list');
    box.addEventListener('input', () => this.update());
    box.addEventListener('blur', () => this.close());
    // A press on a name must not take the focus from the box (blur would close the list first).
    this.list.addEventListener('mousedown', (e) => e.preventDefault());
  }

  /** A key in the box while the list is open: true when it was the list's (the composer then ignores it). */
  key(e: KeyboardEvent): boolean {
    if (this.list.hidden || e.isComposing) return false;
    const n = this.choices.length;
    switch (e.key) {
      case 'ArrowDown':
        this.highlight((this.active + 1) % n);
        break;
      case 'ArrowUp':
        this.highlight((this.active + n - 1) % n);
        break;
      case 'Enter':
      case 'Tab':
        if (e.shiftKey) return false;
        this.choose(this.choices[this.active]);
        break;
      case 'Escape':
        this.close();
        break;
      default:
        return false;
    }
    e.preventDefault();
    return true;
  }

  /**
   * The member list changed: with the box focused, the choices follow it
   * (a name typed before its holder's join arrived opens the list when it
   * does; one who left goes), the highlighted name kept where it is still
   * listed.
   */
  refresh(): void {
    if (document.activeElement !== this.box) return;
    const was = this.list.hidden ? undefined : this.choices[this.active];
    this.update();
    const i = was === undefined ? -1 : this.choices.indexOf(was);
    if (i > 0) this.highlight(i);
  }

  close(): void {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.q = null;
    this.box.removeAttribute('aria-activedescendant');
    this.hint.textContent = '';
  }

  private update(): void {
    const { names, you, nameMax } = this.people();
    const box = this.box;
    this.q = box.selectionStart === box.selectionEnd ? mentionQuery(box.value, box.selectionStart, nameMax) : null;
    this.choices = this.q ? mentionChoices(names, this.q.query, you) : [];
    if (this.choices.length === 0) return this.close();
    this.list.replaceChildren(
      ...this.choices.map((name, i) => {
        const li = el('li', { class: 'mention-choice', attrs: { id: `mention-${i}`, role: 'option', 'aria-selected': 'false' } }, el('bdi', { text: name }));
        li.addEventListener('click', () => this.choose(name));
        return li;
      }),
    );
    this.list.hidden = false;
    this.highlight(0);
    const n = this.choices.length;
    this.hint.textContent = `${n} ${n === 1 ? 'name matches' : 'names match'}: arrow keys to pick, Enter to choose, Escape to close.`;
  }

  private highlight(i: number): void {
    this.active = i;
    this.list.querySelectorAll('[role=option]').forEach((o, j) => o.setAttribute('aria-selected', String(j === i)));
    this.box.setAttribute('aria-activedescendant', `mention-${i}`);
  }

  private choose(name: string | undefined): void {
    const q = this.q;
    if (!q || name === undefined) return this.close();
    const done = completeMention(this.box.value, this.box.selectionStart, q, name);
    this.box.value = done.text;
    this.box.setSelectionRange(done.caret, done.caret);
    this.close();
    this.changed();
  }
}
