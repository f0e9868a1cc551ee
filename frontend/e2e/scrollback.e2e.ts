// End to end: scrollback. A room's first message, then about 500 more from
// the load tool (cmd/load, built by scripts/test-e2e.sh: GROUPCHAT_E2E_LOAD);
// a person who joins afterwards scrolls to the top of the log again and
// again, each time the page loads the previous page (the history action)
// above, the message that was in view staying at the same pixel offset, until
// the log says "Beginning of the room" with the first message right below.
// After a reload, the top of the log says older messages exist and loads
// them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, join, launch, open, poll, say, texts, type Person } from './browser';

const LOAD = process.env.GROUPCHAT_E2E_LOAD ?? '';
const RUN = `sb${Date.now().toString(36).slice(-4)}`;
const ROOM = `${RUN}-0`; // the load tool's rooms are <prefix>-<n>
const FIRST = 'The first message of the room.';
const SENDERS = 10;
const MESSAGES = 500;
const SECONDS = 50; // each sender 1 a second: within its budget (20 units per 10 s), and a light fan-out

let browser: Browser;
let writer: Person;
let reader: Person;
/** What the load tool says of its messages. */
let sent = { sent: 0, accepted: 0 };

/** Sends MESSAGES public messages into ROOM from SENDERS clients over SECONDS. */
function fill(): Promise<{ sent: number; accepted: number }> {
  if (!LOAD) throw new Error('GROUPCHAT_E2E_LOAD is not set: run scripts/test-e2e.sh, which builds cmd/load');
  const out = pathJoin(mkdtempSync(pathJoin(tmpdir(), 'scrollback-')), 'load.json');
  const args = ['-url', `${BASE.replace(/^http/, 'ws')}/local`, '-clients', String(SENDERS), '-room-size', String(SENDERS),
    '-room-prefix', RUN, '-run', RUN, '-rate', String(MESSAGES / SECONDS), '-duration', `${SECONDS}s`, '-drain', '3s',
    '-connect-concurrency', '8', '-json', out, '-q'];
  const child = spawn(LOAD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (err = (err + chunk).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.on('exit', () => {
      try {
        const r = JSON.parse(readFileSync(out, 'utf8')) as { messages: { sent: number; accepted: number } };
        resolve(r.messages);
      } catch (e) {
        reject(new Error(`the load tool wrote no result (${String(e)}):\n${err}`));
      }
    });
  });
}

/** The log's first message and its offset (px) from the log's top edge, after scrolling to the top. */
function toTop(p: Person): Promise<{ id: string; offset: number }> {
  return p.page.evaluate(() => {
    const log = document.getElementById('log')!;
    log.scrollTop = 0;
    const first = log.querySelector<HTMLElement>('.msg')!;
    return { id: first.dataset.id ?? '', offset: first.getBoundingClientRect().top - log.getBoundingClientRect().top };
  });
}

/** Where the message with this id is now (px from the log's top edge), and what the top of the log says. */
function where(p: Person, id: string): Promise<{ first: string; offset: number; top: string }> {
  return p.page.evaluate((id) => {
    const log = document.getElementById('log')!;
    const m = log.querySelector<HTMLElement>(`.msg[data-id="${id}"]`)!;
    return {
      first: log.querySelector<HTMLElement>('.msg')?.dataset.id ?? '',
      offset: m.getBoundingClientRect().top - log.getBoundingClientRect().top,
      top: document.getElementById('log-top-text')?.textContent ?? '',
    };
  }, id);
}

beforeAll(async () => {
  browser = await launch();
  [writer, reader] = await Promise.all([open(browser), open(browser)]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe(`a room of ${MESSAGES} messages`, () => {
  it('begins with its first message, then fills', async () => {
    await join(writer, 'Founder', ROOM);
    // An empty room: the log says it begins here.
    await poll(() => writer.page.textContent('#log-top-text')).toBe('Beginning of the room');
    await say(writer, FIRST);
    await poll(() => texts(writer, 'public')).toEqual([FIRST]);
    sent = await fill();
    expect(sent.accepted, 'messages the load tool got through').toBeGreaterThan(MESSAGES * 0.9);
  }, 180_000);

  it('scrolls back to its first message, page by page, the message in view staying where it was', async () => {
    await join(reader, 'Reader', ROOM);
    await poll(async () => (await texts(reader, 'public')).length).toBeGreaterThan(0);
    expect(await reader.page.textContent('#log-top-text')).toBe('Older messages');
    let pages = 0;
    for (;;) {
      const before = await toTop(reader);
      // The page asks (one request at a time; over the budget it waits), and
      // puts the older messages above.
      await expect
        .poll(async () => {
          const w = await where(reader, before.id);
          return w.first !== before.id || w.top === 'Beginning of the room';
        }, { timeout: 30_000, interval: 100 })
        .toBe(true);
      const after = await where(reader, before.id);
      if (after.first === before.id) break;
      pages++;
      expect(Math.abs(after.offset - before.offset), `page ${pages}: the message in view moved`).toBeLessThanOrEqual(1);
    }
    expect(pages).toBeGreaterThan(5);
    expect(await reader.page.textContent('#log-top-text')).toBe('Beginning of the room');
    const shown = await texts(reader, 'public');
    expect(shown[0]).toBe(FIRST);
    expect(shown.length).toBeGreaterThanOrEqual(sent.accepted + 1);
    expect(shown.length).toBeLessThanOrEqual(sent.sent + 1);
    // Each message once, in the order it was sent.
    const ids = await reader.page.$$eval('#log .msg', (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ''));
    expect(ids.every((id, i) => i === 0 || ids[i - 1] < id)).toBe(true);
    expect(reader.errors).toEqual([]);
  }, 240_000);

  it('after a reload, says older messages exist above and loads them', async () => {
    await reader.page.reload();
    await reader.page.waitForSelector('#conn[data-state="ready"]');
    await poll(() => reader.page.textContent('#log-top-text')).toBe('Older messages');
    const first = await reader.page.$eval('#log', (log) => log.firstElementChild?.id ?? '');
    expect(first).toBe('log-top');
    const count = (await texts(reader, 'public')).length;
    // Pressed from the keyboard, where it is: a click would first scroll the
    // log to its top, which loads a page by itself, and on a loaded machine
    // that page arrived before the click and carried the button out of view.
    await reader.page.$eval('#log-older', (b) => (b as HTMLButtonElement).focus({ preventScroll: true }));
    await reader.page.keyboard.press('Enter');
    await poll(async () => (await texts(reader, 'public')).length).toBeGreaterThan(count);
    expect(reader.errors).toEqual([]);
  }, 60_000);
});
