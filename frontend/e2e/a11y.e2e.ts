// Accessibility end to end: axe-core (pinned in package.json, injected into
// the page) finds no violation — colour contrast in every state included — in
// light and dark, at a desk (1280×800) and on a phone (390×844): the join
// form, a busy room, the page offline with queued messages, and errors (a
// refused name, an over-long message), @ mentions and editing your own
// message (the Edit button, the open edit box), someone typing. It also takes
// the phone and dark-mode pictures of docs/frontend.md, at the end (a link, an
// edited message, a mention of you, "… is typing") (GROUPCHAT_UPDATE_SCREENSHOT=1 writes them into
// docs/, else into e2e-output/).
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AxeResults } from 'axe-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, dropAllConnections, join, launch, open, PHONE, poll, say, texts, type Person } from './browser';

const axeSource: string = createRequire(import.meta.url)('axe-core').source;
const here = dirname(fileURLToPath(import.meta.url));
const PICTURES = process.env.GROUPCHAT_UPDATE_SCREENSHOT === '1' ? resolve(here, '../../docs') : resolve(here, '../e2e-output');
const ROOM = 'a11y';
const GREEN = 'Good morning! The build is green again: https://ci.example.com/builds/812';
const BACK = 'Back online: can we make it 11:30?';

interface Viewer {
  label: string;
  person: Person;
  name: string;
  picture?: string;
}

let browser: Browser;
let host: Person; // fills the room
const viewers: Viewer[] = [];

/** The violations axe finds on the page as it is, as readable lines. */
async function violations(p: Person): Promise<string[]> {
  if (!(await p.page.evaluate(() => 'axe' in window))) await p.page.addScriptTag({ content: axeSource });
  const r = await p.page.evaluate(() => (window as unknown as { axe: { run(): Promise<AxeResults> } }).axe.run());
  return r.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}: ${n.failureSummary ?? ''}`));
}

beforeAll(async () => {
  browser = await launch();
  host = await open(browser);
  await join(host, 'Hostess', ROOM);
  for (const [scheme, size, label, name] of [
    ['light', DESKTOP, 'light desktop', 'Lena'],
    ['dark', DESKTOP, 'dark desktop', 'Dario'],
    ['light', PHONE, 'light phone', 'Pia'],
    ['dark', PHONE, 'dark phone', 'Noor'],
  ] as const) {
    // A long first backoff (at least 5 minutes) keeps the page offline while
    // it is checked, however slow the machine; the test presses Retry now.
    const person = await open(browser, '?backoff=600000', { viewport: size, colorScheme: scheme });
    const picture = label === 'dark desktop' ? 'screenshot-dark.png' : label === 'light phone' ? 'screenshot-phone.png' : undefined;
    viewers.push({ label, person, name, picture });
  }
});

afterAll(async () => {
  await browser?.close();
});

describe('axe finds nothing, in light and dark, at a desk and on a phone', () => {
  it('the join form', async () => {
    for (const v of viewers) expect(await violations(v.person), v.label).toEqual([]);
  });

  it('a busy room: public and private messages, notices, members, "you"', async () => {
    for (const v of viewers) await join(v.person, v.name, ROOM);
    await say(host, GREEN);
    for (const v of viewers) {
      await poll(() => texts(v.person, 'public')).toContain(GREEN);
      const p = v.person.page;
      // On a phone the list is folded behind "Members (N)": open it, choose, fold it again.
      const folded = (await p.getAttribute('#members-toggle', 'aria-expanded')) === 'false';
      if (folded) await p.click('#members-toggle');
      await p.check(`#members input[data-name="Hostess"]`);
      if (folded) await p.click('#members-toggle');
      await say(v.person, `${v.name} here, privately: can we talk at 11?`);
      await poll(() => texts(v.person, 'private')).toContain(`${v.name} here, privately: can we talk at 11?`);
    }
    await say(host, 'Deploying at noon — shout if anything looks off.');
    for (const v of viewers) {
      await poll(() => texts(v.person, 'public')).toContain('Deploying at noon — shout if anything looks off.');
      expect(await violations(v.person), v.label).toEqual([]);
    }
  });

  it('errors: a refused name and an over-long message', async () => {
    for (const v of viewers) {
      const p = v.person.page;
      await p.click('#name-edit');
      await p.fill('#name-input', 'hostess');
      await p.press('#name-input', 'Enter');
      await poll(() => p.textContent('#name-error')).toMatch(/taken/);
      await p.fill('#message', 'x'.repeat(2001));
      await p.click('#send');
      await poll(() => p.textContent('#send-error')).toMatch(/at most 2000/);
      expect(await p.$eval('#counter', (e) => e.classList.contains('over'))).toBe(true);
      expect(await violations(v.person), v.label).toEqual([]);
      await p.press('#name-input', 'Escape');
      expect(await p.textContent('#name-error'), `${v.label}: the refused name's error after giving up the rename`).toBe('');
      await p.fill('#message', '');
    }
  });

  it('offline, with a queued message', async () => {
    await dropAllConnections();
    for (const v of viewers) {
      const p = v.person.page;
      await p.waitForSelector('#conn[data-state="waiting"]', { timeout: 5_000 });
      await say(v.person, 'Typed while offline');
      await poll(() => p.textContent('#log .msg.pending .msg-status')).toMatch(/Queued/);
      expect(await violations(v.person), v.label).toEqual([]);
    }
    // Retry now, on each page still waiting: the axe checks above take
    // seconds a page on a loaded machine, and the page's own backoff may
    // have reconnected an earlier one meanwhile (its button then hidden).
    // Clicked in the page, so the check and the click are one step.
    for (const v of viewers)
      await v.person.page.evaluate(() => {
        const retry = document.querySelector<HTMLButtonElement>('#retry-now');
        if (retry && !retry.hidden) retry.click();
      });
    for (const v of viewers) await v.person.page.waitForSelector('#conn[data-state="ready"]', { timeout: 20_000 });
    for (const v of [...viewers.map((x) => x.person), host]) expect(v.errors).toEqual([]);
  }, 240_000); // four pages checked by axe: over a minute on a loaded 2-core machine

  it('mentions: a message that mentions you, the divider after time away, the @ list open', async () => {
    const visibility = (p: Person, hidden: boolean) =>
      p.page.evaluate((h) => {
        if (h) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        else delete (document as unknown as { visibilityState?: string }).visibilityState;
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    for (const v of viewers) await visibility(v.person, true);
    await say(host, `@${viewers.map((v) => v.name).join(' @')} standup in five minutes`);
    for (const v of viewers) {
      const p = v.person.page;
      await poll(() => p.$$('#log .msg.mention')).toHaveLength(1);
      await visibility(v.person, false);
      await p.waitForSelector('#away-divider');
      await p.fill('#message', '');
      await p.click('#message');
      await p.keyboard.type('@Hos');
      await p.waitForSelector('#mention-list:visible');
      expect(await violations(v.person), v.label).toEqual([]);
      await p.keyboard.press('Escape');
      expect(await p.isHidden('#mention-list')).toBe(true);
      await p.fill('#message', '');
    }
  });

  it('editing: the Edit button on your own message, the open edit box, the edited mark', async () => {
    for (const v of viewers) {
      const p = v.person.page;
      const mine = p.locator('#log .msg:not(.pending)', { hasText: 'Typed while offline' }); // private to Hostess
      await mine.locator('button.edit').waitFor();
      expect(await violations(v.person), `${v.label}, Edit shown`).toEqual([]);
      await mine.locator('button.edit').click();
      const box = p.locator('#log .edit-form textarea');
      await poll(() => box.evaluate((e) => e === document.activeElement)).toBe(true);
      expect(await violations(v.person), `${v.label}, the edit box open`).toEqual([]);
      await box.fill(BACK);
      await p.keyboard.press('Enter');
      await p.locator('#log .msg', { hasText: BACK }).locator('.msg-head .edited').waitFor();
      expect(await violations(v.person), `${v.label}, marked edited`).toEqual([]);
    }
  });

  it('with someone typing (the pictures of docs/frontend.md: a link, an edit, a mention, typing)', async () => {
    // Hostess keeps typing: "is typing" lasts 5 s after her last typing (sent
    // at most every 3 s), and one viewer's axe run took longer than that on a
    // loaded machine, so the later viewers no longer saw her typing.
    let keys = 0;
    const typing = (v: Viewer) =>
      poll(async () => {
        keys += 1;
        await host.page.fill('#message', `Checking the logs${'.'.repeat(keys % 4)}`);
        return v.person.page.textContent('#typing');
      }).toMatch(/Hostess is typing/);
    for (const v of viewers) {
      await typing(v);
      expect(await violations(v.person), v.label).toEqual([]);
      if (v.picture) {
        mkdirSync(PICTURES, { recursive: true });
        await v.person.page.click('#to-clear'); // back to everyone
        await v.person.page.focus('#message');
        await typing(v);
        await v.person.page.screenshot({ path: resolve(PICTURES, v.picture) });
      }
    }
    await host.page.fill('#message', '');
  });
});
