// End to end: a big room. The load tool (cmd/load, built by
// scripts/test-e2e.sh: GROUPCHAT_E2E_LOAD) fills a room with 300 members and
// keeps them connected; a person joins it in Chromium, sees the count, finds
// one member by name without the page listing all 300, and messages them
// privately.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, join, launch, members, open, poll, say, texts, type Person } from './browser';

const LOAD = process.env.GROUPCHAT_E2E_LOAD ?? '';
const FILL = 300;
const RUN = `big${Date.now().toString(36).slice(-4)}`;
const ROOM = `${RUN}-0`;
const SHOWN_MAX = 50; // members.ts

let browser: Browser;
let load: ChildProcess | undefined;
let person: Person;
/** The load tool's clients in the room, from its progress line in the hold phase ("clients 300/300"). */
let filled = 0;

/**
 * Starts the load tool and resolves once its room is full and quiet (its
 * "hold" phase) with how many of its clients are in it. On a loaded machine a
 * handshake can be answered 500 (a DynamoDB request past its limit), and the
 * load tool does not retry: the room is then the members that got in, and
 * the count the page shows is theirs. Eight handshakes at a time, not 32,
 * make that rarer.
 */
function fill(): Promise<number> {
  if (!LOAD) throw new Error('GROUPCHAT_E2E_LOAD is not set: run scripts/test-e2e.sh, which builds cmd/load');
  const url = `${BASE.replace(/^http/, 'ws')}/local`;
  const args = ['-url', url, '-clients', String(FILL), '-room-size', String(FILL), '-room-prefix', RUN, '-run', RUN,
    '-broadcasts', '1', '-hold', '5m', '-settle', '1s', '-connect-concurrency', '8'];
  const child = spawn(LOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  load = child;
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err = (err + chunk).slice(-4000);
      const held = / hold +clients (\d+)\/\d+/.exec(chunk);
      if (held) resolve(Number(held[1]));
    });
    child.on('exit', (code) => reject(new Error(`the load tool exited (${code}) before the room was full:\n${err}`)));
  });
}

beforeAll(async () => {
  browser = await launch();
  filled = await fill();
  person = await open(browser);
}, 180_000);

afterAll(async () => {
  load?.kill('SIGTERM');
  await browser?.close();
});

describe(`a room of ${FILL} members and one person`, () => {
  it('shows the exact count and never more than a page of rows', async () => {
    await join(person, 'Watcher', ROOM);
    expect(filled, 'load tool clients in the room').toBeGreaterThan(FILL * 0.9);
    await poll(() => person.page.textContent('#member-count')).toBe(String(filled + 1));
    expect(await person.page.textContent('#members-toggle')).toMatch(new RegExp(`Members\\s*\\(?${filled + 1}\\)?`));
    const rows = await person.page.$$eval('#members li', (els) => els.length);
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThanOrEqual(SHOWN_MAX);
    expect(await person.page.isVisible('#member-search')).toBe(true);
    expect(await person.page.textContent('#member-more')).toMatch(/search to find anyone/);
  });

  it('finds one member by name', async () => {
    const name = `l${RUN}-123`;
    await person.page.fill('#member-search', name);
    await poll(() => members(person)).toEqual([name]);
    await person.page.fill('#member-search', `l${RUN}-12`);
    // 12 and 120–129: eleven matches, every one of them read from the server's pages.
    await poll(async () => (await members(person)).length).toBe(11);
  });

  it('messages the member found, privately', async () => {
    const name = `l${RUN}-123`;
    await person.page.fill('#member-search', name);
    await poll(() => members(person)).toEqual([name]);
    await person.page.check(`#members input[data-name="${name}"]`);
    expect(await person.page.textContent('#to-text')).toBe(`Privately to ${name}`);
    await say(person, 'Found you in a crowd of 300.');
    // Confirmed by the server: it knew the recipient.
    await poll(() => texts(person, 'private')).toEqual(['Found you in a crowd of 300.']);
    expect(person.errors).toEqual([]);
  });
});
