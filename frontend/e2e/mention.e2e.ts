// Mentions that notify (issue 26 #3), signed in through the local issuer:
// alice completes "@bo" to bob's name with the keyboard and sends it; bob,
// who turned notifications on (Chromium's permission granted by the test)
// and whose page is hidden (the Page Visibility API's state overridden), gets
// a notification for the mention, none for a plain message, and his tab's
// title counts both; when his page is shown again the "new since you were
// away" divider sits above the first of them, and the mention is highlighted.
// A name typed before its holder is listed opens the @ list when she arrives.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, launch, members, open, poll, signIn, texts, type Person } from './browser';

const ROOM = 'mentions';

let browser: Browser;
let alice: Person;
let bob: Person;

interface Note {
  title: string;
  body: string;
}

beforeAll(async () => {
  browser = await launch();
  alice = await open(browser);
  bob = await open(browser, '', {}, async (context) => {
    await context.grantPermissions(['notifications'], { origin: new URL(BASE).origin });
    // What the page shows as notifications is recorded (headless Chromium
    // shows none): the browser's own permission stands behind it.
    await context.addInitScript(() => {
      const Real = window.Notification;
      const notes: Note[] = [];
      (window as unknown as { notes: Note[] }).notes = notes;
      class Recorded {
        onclick: (() => void) | null = null;
        constructor(title: string, opts?: NotificationOptions) {
          notes.push({ title, body: opts?.body ?? '' });
        }
        static get permission(): NotificationPermission {
          return Real.permission;
        }
        static requestPermission(): Promise<NotificationPermission> {
          return Real.requestPermission();
        }
      }
      (window as unknown as { Notification: unknown }).Notification = Recorded;
    });
  });
});

afterAll(async () => {
  await browser?.close();
});

async function enter(p: Person, user: string): Promise<void> {
  await signIn(p, user);
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Hides or shows the page as the Page Visibility API tells it (another tab in front, or this one back). */
async function setHidden(p: Person, hidden: boolean): Promise<void> {
  await p.page.evaluate((h) => {
    if (h) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    else delete (document as unknown as { visibilityState?: string }).visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

const notes = (p: Person) => p.page.evaluate(() => (window as unknown as { notes: Note[] }).notes);

describe('a mention notifies a hidden page', () => {
  it('alice completes @bo to bob with the keyboard', async () => {
    await enter(alice, 'alice');
    await enter(bob, 'bob');
    for (const p of [alice, bob]) await poll(() => members(p)).toEqual(['alice', 'bob']);
    expect(await notes(bob)).toEqual([]);
    // Never asked on load: the control is there, off.
    expect(await bob.page.textContent('#notify')).toBe('Turn on notifications');
    await bob.page.click('#notify');
    await poll(() => bob.page.textContent('#notify')).toBe('Turn off notifications');

    const p = alice.page;
    await p.click('#message');
    await p.keyboard.type('@bo');
    await p.waitForSelector('#mention-list:visible');
    expect(await p.$$eval('#mention-list [role=option]', (o) => o.map((e) => e.textContent))).toEqual(['bob']);
    expect(await p.getAttribute('#message', 'aria-activedescendant')).toBe('mention-0');
    await p.keyboard.press('Enter'); // chooses the name, does not send
    expect(await p.inputValue('#message')).toBe('@bob ');
    expect(await p.isHidden('#mention-list')).toBe(true);
    await p.keyboard.type('are you there?');
    await setHidden(bob, true);
    await p.keyboard.press('Enter');
    await poll(() => texts(alice, 'public')).toEqual(['@bob are you there?']);
  });

  it('bob, hidden, is notified of the mention, not of a plain message, and his title counts both', async () => {
    await poll(() => notes(bob)).toEqual([{ title: 'alice mentioned you', body: '@bob are you there?' }]);
    await poll(() => bob.page.title()).toBe('(1) GroupChat');
    await alice.page.fill('#message', 'no rush');
    await alice.page.press('#message', 'Enter');
    await poll(() => bob.page.title()).toBe('(2) GroupChat');
    await poll(() => texts(bob, 'public')).toEqual(['@bob are you there?', 'no rush']);
    expect(await notes(bob)).toHaveLength(1);
    expect(await bob.page.$('#away-divider')).toBeNull();
  });

  it('back on the page: the title is plain, the divider is above the mention, which is highlighted', async () => {
    await setHidden(bob, false);
    await poll(() => bob.page.title()).toBe('GroupChat');
    const next = await bob.page.$eval('#away-divider', (d) => ({
      text: d.textContent,
      next: d.nextElementSibling?.querySelector('.text')?.textContent,
      mention: d.nextElementSibling?.classList.contains('mention'),
      badge: d.nextElementSibling?.querySelector('.mention-badge')?.textContent,
    }));
    expect(next).toEqual({ text: 'New since you were away', next: '@bob are you there?', mention: true, badge: 'mentions you' });
    // Alice's own copy mentions bob, not her.
    expect(await alice.page.$$('#log .msg.mention')).toHaveLength(0);
    for (const p of [alice, bob]) expect(p.errors).toEqual([]);
  });

  it('a reload reads the mark back from history', async () => {
    await bob.page.reload();
    await bob.page.waitForSelector('#conn[data-state="ready"]');
    await poll(() => bob.page.$$eval('#log .msg.mention .text', (e) => e.map((x) => x.textContent))).toEqual(['@bob are you there?']);
  });

  it('an edit that adds @bob notifies his hidden page once; one that keeps it does not, nor counts in the title', async () => {
    await alice.page.fill('#message', 'lunch at noon');
    await alice.page.press('#message', 'Enter');
    await poll(() => texts(bob, 'public')).toContain('lunch at noon');
    await setHidden(bob, true);
    const before = (await notes(bob)).length;
    const edit = async (from: string, to: string) => {
      await alice.page.locator('#log .msg.public', { hasText: from }).locator('button.edit').click();
      await alice.page.locator('#log .edit-form textarea').fill(to);
      await alice.page.keyboard.press('Enter');
      await poll(() => texts(bob, 'public')).toContain(to);
    };
    await edit('lunch at noon', '@bob lunch at noon?');
    await poll(async () => (await notes(bob)).slice(before)).toEqual([{ title: 'alice mentioned you', body: '@bob lunch at noon?' }]);
    await edit('@bob lunch at noon?', '@bob lunch at one?');
    expect((await notes(bob)).slice(before)).toHaveLength(1);
    expect(await bob.page.title()).toBe('GroupChat');
    await setHidden(bob, false);
    for (const p of [alice, bob]) expect(p.errors).toEqual([]);
  });

  it('a name typed before its holder is listed opens the @ list when she arrives', async () => {
    // Under load a page's list can lag (a join missed, read again 2 s
    // later); the @ list followed only the keys, so "@ca" stayed closed.
    await alice.page.fill('#message', '');
    await alice.page.click('#message');
    await alice.page.keyboard.type('@ca');
    expect(await alice.page.isHidden('#mention-list')).toBe(true);
    const carol = await open(browser);
    try {
      await enter(carol, 'carol');
      await poll(() => alice.page.$$eval('#mention-list:not([hidden]) [role=option]', (e) => e.map((x) => x.textContent))).toEqual(['carol']);
      await alice.page.keyboard.press('Enter');
      expect(await alice.page.inputValue('#message')).toBe('@carol ');
    } finally {
      await carol.context.close();
    }
    await alice.page.fill('#message', '');
  });
});
