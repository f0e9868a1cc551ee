// The member panel's fold: on a narrow screen (a phone) the list is folded
// behind its "Members (N)" heading, which is a button, so the log keeps the
// screen when the on-screen keyboard is open; from 760 px, where the list is a
// column of its own, it starts unfolded. The count is the one members.ts
// writes into the heading.

import { byId } from './dom';

export const WIDE = '(min-width: 760px)';

export class MemberPanel {
  private readonly panel = byId('members-panel');
  private readonly toggle = byId<HTMLButtonElement>('members-toggle');

  constructor(wide: MediaQueryList = window.matchMedia(WIDE)) {
    this.set(wide.matches);
    wide.addEventListener('change', (e) => this.set(e.matches));
    this.toggle.addEventListener('click', () => this.set(!this.open));
  }

  get open(): boolean {
    return this.panel.classList.contains('open');
  }

  set(open: boolean): void {
    this.panel.classList.toggle('open', open);
    this.toggle.setAttribute('aria-expanded', String(open));
  }
}
