// The top bar's connection status: the state as a polite live region, a
// countdown while a reconnect is scheduled, and *Retry now*. What it says is
// connstatus.ts; this puts it on the page.

import type { Status } from './client';
import type { ConfigSource } from './config';
import { connStatusText } from './connstatus';
import { byId } from './dom';

export class StatusBar {
  private readonly conn = byId('conn');
  private readonly msg = byId('conn-msg');
  private readonly secs = byId('conn-secs');
  private readonly retryNow = byId<HTMLButtonElement>('retry-now');
  private countdown: ReturnType<typeof setInterval> | null = null;

  constructor(retry: () => void) {
    this.retryNow.addEventListener('click', retry);
  }

  show(s: Status, ctx: { room: string; everReady: boolean; source?: ConfigSource }): void {
    this.conn.dataset.state = s.state;
    this.retryNow.hidden = s.state !== 'waiting';
    if (this.countdown !== null) clearInterval(this.countdown);
    this.countdown = null;
    // Only the state's text is announced (#conn is a live region); the seconds
    // tick in an aria-hidden span, or screen readers would read every one.
    const view = () => connStatusText(s, { ...ctx, now: Date.now() });
    const first = view();
    // Rewriting the same text could be read out again.
    if (this.msg.textContent !== first.text) this.msg.textContent = first.text;
    this.secs.textContent = first.ticking;
    if (s.state === 'waiting') {
      this.countdown = setInterval(() => (this.secs.textContent = view().ticking), 1000);
    }
  }
}
