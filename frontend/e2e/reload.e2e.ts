// End to end: a reload keeps the person in the room, with their own private
// conversations brought back by the server, and nobody else's. Three people
// in Debian's Chromium against the local stack (scripts/test-e2e.sh,
// -auth none): the resume token kept for the tab is what makes it the same
// person.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, launch, open, poll, say, texts, type Person } from './browser';

const ROOM = 'reload';
let browser: Browser;
let alice: Person;
let bob: Person;
let carol: Person;

beforeAll(async () => {
  browser = await launch();
  [alice, bob, carol] = await Promise.all([open(browser), open(browser), open(browser)]);
  await join(alice, 'Alice', ROOM);
  await join(bob, 'Bob', ROOM);
  await join(carol, 'Carol', ROOM);
});

afterAll(async () => {
  await browser?.close();
});

async function whisper(from: Person, to: string, text: string, seenBy: Person): Promise<void> {
  await from.page.check(`#members input[data-name="${to}"]`);
  await say(from, text);
  await poll(() => texts(seenBy, 'private')).toContain(text);
  await from.page.click('#to-clear');
}

/** Reloads the page and waits until it is back in the room, never through the join form. */
async function reload(p: Person): Promise<void> {
  await p.page.reload();
  await p.page.waitForSelector('#conn[data-state="ready"]');
  expect(await p.page.isVisible('#join-form')).toBe(false);
}

describe('a reload', () => {
  it('keeps the person in the room with their own private conversation', async () => {
    await say(alice, 'Morning, all.');
    await poll(() => texts(carol, 'public')).toContain('Morning, all.');
    await whisper(alice, 'Bob', 'Bob, a word about the release?', bob);
    await whisper(bob, 'Alice', 'Sure, after lunch.', alice);
    await whisper(bob, 'Carol', 'Carol, your badge is ready.', carol);

    await reload(alice);
    expect(await alice.page.textContent('#my-name')).toBe('Alice');
    await poll(() => texts(alice, 'private')).toEqual(['Bob, a word about the release?', 'Sure, after lunch.']);
    expect(await texts(alice, 'public')).toEqual(['Morning, all.']);
    expect(await alice.page.textContent('#name-error')).toBe('');

    await reload(bob);
    expect(await bob.page.textContent('#my-name')).toBe('Bob');
    await poll(() => texts(bob, 'private')).toEqual([
      'Bob, a word about the release?',
      'Sure, after lunch.',
      'Carol, your badge is ready.',
    ]);
  });

  it("shows a third person none of the others' conversation", async () => {
    const states = () => carol.frames.filter((t) => t === 'state').length;
    const before = states();
    await reload(carol);
    expect(await carol.page.textContent('#my-name')).toBe('Carol');
    await poll(() => texts(carol, 'public')).toEqual(['Morning, all.']);
    // The settle hello's state (the second on the new socket) has come: still only Carol's own.
    await poll(async () => states() - before).toBeGreaterThanOrEqual(2);
    expect(await texts(carol, 'private')).toEqual(['Carol, your badge is ready.']);
  });

  it('and chat goes on; leaving forgets the room, so the next reload shows the join form', async () => {
    await say(alice, 'Back after a reload.');
    for (const p of [bob, carol]) await poll(() => texts(p, 'public')).toContain('Back after a reload.');
    await carol.page.click('#leave');
    await carol.page.reload();
    await carol.page.waitForSelector('#join-form:visible');
    for (const p of [alice, bob, carol]) expect(p.errors).toEqual([]);
  });
});
