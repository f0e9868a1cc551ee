// The connection status in the top bar: #conn is a polite live region, so the
// announced text must change only with the state, while the countdown ticks in
// a part screen readers do not read.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Status } from '../src/client';
import type { ConfigSource } from '../src/config';
import { connStatusText } from '../src/connstatus';

const now = Date.parse('2025-11-26T10:00:00Z');
const ctx = { room: 'lobby', everReady: true, now };

describe('the connection status', () => {
  it('announces a wait once and ticks the seconds apart from it', () => {
    const s: Status = { state: 'waiting', attempt: 1, retryAt: now + 5_000 };
    const views = [0, 1_000, 2_000, 4_500].map((dt) => connStatusText(s, { ...ctx, now: now + dt }));
    expect(new Set(views.map((v) => v.text))).toEqual(new Set(['Connection lost — reconnecting']));
    expect(views.map((v) => v.ticking)).toEqual([' in 5 s', ' in 4 s', ' in 3 s', ' in 1 s']);
    // What sighted users see is unchanged.
    expect(views[0].text + views[0].ticking).toBe('Connection lost — reconnecting in 5 s');
  });

  it('says why before the first connection', () => {
    const v = connStatusText({ state: 'waiting', attempt: 1, retryAt: now + 1_000 }, { ...ctx, everReady: false });
    expect(v).toEqual({ text: 'Cannot reach the chat server — reconnecting', ticking: ' in 1 s' });
  });

  it.each<[ConfigSource, string]>([
    ['config.json', 'Cannot reach the chat server (URL from config.json) — reconnecting'],
    ['query', 'Cannot reach the chat server (URL from ?ws=) — reconnecting'],
    ['fallback', 'Cannot reach the chat server (no config.json, URL guessed) — reconnecting'],
  ])('says where the URL came from (%s) while the first connection fails', (source, text) => {
    const s: Status = { state: 'waiting', attempt: 1, retryAt: now + 1_000 };
    expect(connStatusText(s, { ...ctx, everReady: false, source })).toEqual({ text, ticking: ' in 1 s' });
    // Once it worked, the URL is not the problem.
    expect(connStatusText(s, { ...ctx, everReady: true, source }).text).toBe('Connection lost — reconnecting');
  });

  it.each<[Status, string]>([
    [{ state: 'connecting', attempt: 0 }, 'Connecting…'],
    [{ state: 'connecting', attempt: 2 }, 'Reconnecting (attempt 3)…'],
    [{ state: 'joining', attempt: 0 }, 'Joining #lobby…'],
    [{ state: 'ready', attempt: 0 }, 'Connected'],
    [{ state: 'stopped', attempt: 0 }, 'Not connected'],
  ])('has no countdown when %j', (s, text) => {
    expect(connStatusText(s, ctx)).toEqual({ text, ticking: '' });
  });

  it('puts the ticking seconds in an aria-hidden span inside the live region', () => {
    const html = readFileSync(new URL('../index.html', import.meta.url), 'utf8');
    const conn = html.match(/<div id="conn"[^>]*>([\s\S]*?)<\/div>/);
    expect(conn?.[0]).toMatch(/role="status"/);
    expect(conn?.[0]).toMatch(/aria-live="polite"/);
    expect(conn?.[1]).toMatch(/<span id="conn-secs" aria-hidden="true"><\/span>/);
    expect(conn?.[1]).toMatch(/<span id="conn-msg">/);
  });
});
