// The member list and the private recipients chosen from it: a checkbox per
// member (but not for you) picks who the next message goes to privately, and
// the composer's "to" line says so. Who is in follows the presence frames by
// the rule of presence.ts.

import { byId, el, nameHue } from './dom';
import { applyPresence, NO_PRESENCE, presentNames, type Presence, type PresenceFrame } from './presence';
import { foldName, sortNames } from './protocol';

export class MemberList {
  private readonly list = byId<HTMLUListElement>('members');
  private readonly count = byId('member-count');
  private readonly toText = byId('to-text');
  private readonly toClear = byId<HTMLButtonElement>('to-clear');
  private readonly composer = byId<HTMLFormElement>('composer');
  private presence: Presence = NO_PRESENCE;
  /** The names in presence, sorted as shown. */
  private members: string[] = [];
  /** Chosen private recipients, keyed by folded name. */
  private readonly selected = new Map<string, string>();

  /** you gives the name to mark "you"; cleared is called when the user sends to everyone again. */
  constructor(
    private readonly you: () => string,
    cleared: () => void,
  ) {
    this.list.addEventListener('change', (e) => {
      const box = e.target as HTMLInputElement;
      const name = box.dataset.name;
      if (name === undefined) return;
      if (box.checked) this.selected.set(foldName(name), name);
      else this.selected.delete(foldName(name));
      this.renderRecipients();
    });
    this.toClear.addEventListener('click', () => {
      this.selected.clear();
      this.renderMembers();
      this.renderRecipients();
      cleared();
    });
  }

  /** Who the next message goes to privately; empty: to everyone. */
  recipients(): string[] {
    return [...this.selected.values()];
  }

  /** Empties the list and the choice (a room is joined). */
  reset(): void {
    this.presence = NO_PRESENCE;
    this.members = [];
    this.selected.clear();
    this.renderMembers();
    this.renderRecipients();
  }

  /**
   * A presence frame, applied by the rule of presence.ts (per name, only what
   * is newer than the last applied). People no longer in the list are no
   * longer recipients; a rename keeps its holder chosen.
   */
  apply(f: PresenceFrame): void {
    const next = applyPresence(this.presence, f);
    if (f.type === 'renamed') this.follow(f.oldName, f.name, next);
    this.presence = next;
    this.members = sortNames(presentNames(next));
    for (const k of [...this.selected.keys()]) if (!next.members.has(k)) this.selected.delete(k);
    this.renderMembers();
    this.renderRecipients();
  }

  /**
   * Moves the choice of oldName to name, unless the old name is still in the
   * list: then someone took it after the rename, and the choice stays with
   * the name the user sees.
   */
  private follow(oldName: string, name: string, next: Presence): void {
    const from = foldName(oldName);
    const to = foldName(name);
    const shown = next.members.get(to);
    if (!this.selected.has(from) || shown === undefined || (from !== to && next.members.has(from))) return;
    this.selected.delete(from);
    this.selected.set(to, shown);
  }

  private renderMembers(): void {
    const you = this.you();
    const items = this.members.map((name) => {
      const isYou = name === you;
      const label = el('label', { class: 'member-label' });
      if (!isYou) {
        const box = el('input', { attrs: { type: 'checkbox', 'aria-label': `Message ${name} privately` } });
        box.dataset.name = name;
        box.checked = this.selected.has(foldName(name));
        label.append(box);
      } else {
        label.append(el('span', { class: 'box-spacer', attrs: { 'aria-hidden': 'true' } }));
      }
      const nameEl = el('span', { class: 'member-name', text: name });
      nameEl.style.setProperty('--hue', String(nameHue(name)));
      label.append(nameEl);
      if (isYou) label.append(el('span', { class: 'you-tag', text: 'you' }));
      const li = el('li', { class: isYou ? 'member is-you' : 'member' }, label);
      li.dataset.name = name;
      return li;
    });
    this.list.replaceChildren(...items);
    this.count.textContent = this.members.length ? String(this.members.length) : '';
  }

  private renderRecipients(): void {
    const to = this.recipients();
    this.toText.textContent = to.length ? `Privately to ${to.join(', ')}` : 'To everyone';
    this.toText.classList.toggle('private', to.length > 0);
    this.toClear.hidden = to.length === 0;
    this.composer.classList.toggle('private', to.length > 0);
  }
}
