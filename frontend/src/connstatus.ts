// What the top bar's connection status says. #conn is a polite live region, so
// screen readers read out every change of its text: the part that changes only
// with the state (`text`) is announced, while the countdown that ticks every
// second (`ticking`) goes into an aria-hidden span next to it.

import type { Status } from './connection';
import { sourceLabel, type ConfigSource } from './config';

export interface ConnStatusText {
  /** Announced: changes only when the state does. */
  text: string;
  /** Shown after text but hidden from screen readers: the seconds left, redrawn every second. */
  ticking: string;
}

export function connStatusText(
  s: Status,
  ctx: { room: string; everReady: boolean; now: number; source?: ConfigSource },
): ConnStatusText {
  switch (s.state) {
    case 'connecting':
      return { text: s.attempt > 0 ? `Reconnecting (attempt ${s.attempt + 1})…` : 'Connecting…', ticking: '' };
    case 'joining':
      return { text: `Joining #${ctx.room}…`, ticking: '' };
    case 'ready':
      return { text: 'Connected', ticking: '' };
    case 'waiting': {
      const secs = Math.max(0, Math.ceil(((s.retryAt ?? ctx.now) - ctx.now) / 1000));
      // Before the first connection a wrong URL is the likely cause: say where it came from.
      const from = ctx.source ? ` (${sourceLabel(ctx.source)})` : '';
      const why = ctx.everReady ? 'Connection lost' : `Cannot reach the chat server${from}`;
      return { text: `${why} — reconnecting`, ticking: ` in ${secs} s` };
    }
    case 'stopped':
      return { text: 'Not connected', ticking: '' };
  }
}
