// End to end, editing (issue 26 item 2): scripts/test-e2e.sh runs this file
// against a local stack with -auth cognito. Bob has an Edit on his own
// messages only; he edits one with the keyboard alone, and alice's page shows
// the new text in its place, marked "(edited)"; a page that joins afterwards
// reads the new text, marked, from history. axe finds nothing on the open
// form and the edited message, light or dark.
import { createRequire } from 'node:module';
import type { AxeResults } from 'axe-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, open, poll, say, signIn, telling, type Person } from './browser';

const axeSource: string = createRequire(import.meta.url)('axe-core').source;
const ROOM = 'edits';

let browser: Browser;
let alice: Person;
let bob: Person;

beforeAll(async () => {
  browser = await launch();
  alice = await open(browser);
  bob = await open(browser);
});

afterAll(async () => {
  await browser?.close();
});

async function join(p: Person, user: string): Promise<void> {
  await signIn(p, user);
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Each public message the page shows: its text, "(edited)" when marked, and "[Edit]" when it offers an Edit. */
async function shown(p: Person): Promise<string[]> {
  return p.page.$$eval('#log .msg.public:not(.pending)', (els) =>
    els.map((e) => {
      const text = e.querySelector('.text')?.textContent ?? '';
      const marked = e.querySelector('.msg-head .edited') ? ' (edited)' : '';
      return `${text}${marked}${e.querySelector('button.edit') ? ' [Edit]' : ''}`;
    }),
  );
}

async function violations(p: Person): Promise<string[]> {
  if (!(await p.page.evaluate(() => 'axe' in window))) await p.page.addScriptTag({ content: axeSource });
  const r = await p.page.evaluate(() => (window as unknown as { axe: { run(): Promise<AxeResults> } }).axe.run());
  return r.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}: ${n.failureSummary ?? ''}`));
}

describe('bob edits his message and alice sees the new text, marked edited', () => {
  it('only the sender has an Edit on a message', async () => {
    await join(alice, 'alice');
    await join(bob, 'bob');
    await say(alice, 'Lunch at noon?');
    await say(bob, 'See you at 5');
    await poll(() => shown(alice)).toEqual(['Lunch at noon? [Edit]', 'See you at 5']);
    await poll(() => shown(bob)).toEqual(['Lunch at noon?', 'See you at 5 [Edit]']);
  });

  it('bob edits with the keyboard: the form opens in place, focused, and passes axe in both schemes', async () => {
    const edit = bob.page.locator('#log .msg.public', { hasText: 'See you at 5' }).locator('button.edit');
    await edit.focus();
    await bob.page.keyboard.press('Enter');
    const box = bob.page.locator('#log .edit-form textarea');
    await poll(() => box.evaluate((e) => e === document.activeElement)).toBe(true);
    expect(await box.inputValue()).toBe('See you at 5');
    for (const scheme of ['light', 'dark'] as const) {
      await bob.page.emulateMedia({ colorScheme: scheme });
      expect(await violations(bob), scheme).toEqual([]);
    }
    await bob.page.emulateMedia({ colorScheme: 'light' });
    await box.fill('See you at 6');
    await bob.page.keyboard.press('Enter');
    await telling(poll(() => shown(bob)).toEqual(['Lunch at noon?', 'See you at 6 (edited) [Edit]']), { bob });
  });

  it('alice\'s page shows the new text in its place, marked edited', async () => {
    await poll(() => shown(alice)).toEqual(['Lunch at noon? [Edit]', 'See you at 6 (edited)']);
    expect(alice.frames).toContain('edited');
    for (const scheme of ['light', 'dark'] as const) {
      await alice.page.emulateMedia({ colorScheme: scheme });
      expect(await violations(alice), scheme).toEqual([]);
    }
  });

  it('Escape gives up an edit and gives the focus back to Edit', async () => {
    const edit = bob.page.locator('#log .msg.public', { hasText: 'See you at 6' }).locator('button.edit');
    await edit.click();
    await bob.page.locator('#log .edit-form textarea').fill('never sent');
    await bob.page.keyboard.press('Escape');
    await poll(() => edit.evaluate((e) => e === document.activeElement)).toBe(true);
    expect(await shown(bob)).toEqual(['Lunch at noon?', 'See you at 6 (edited) [Edit]']);
  });

  it('a page that joins afterwards reads the new text, marked, from history', async () => {
    const carol = await open(browser);
    await join(carol, 'carol');
    await poll(() => shown(carol)).toEqual(['Lunch at noon?', 'See you at 6 (edited)']);
  });

  it('an edit that adds @alice highlights it on her page, and one that takes it out does not', async () => {
    const mentioned = () => alice.page.$$eval('#log .msg.public.mention .text', (els) => els.map((e) => e.textContent ?? ''));
    for (const [text, want] of [
      ['@alice See you at 6', ['@alice See you at 6']],
      ['See you at 7', []],
    ] as const) {
      const edit = bob.page.locator('#log .msg.public', { hasText: 'See you at' }).locator('button.edit');
      await edit.click();
      await bob.page.locator('#log .edit-form textarea').fill(text);
      await bob.page.keyboard.press('Enter');
      await telling(
        poll(() => alice.page.$$eval('#log .msg.public .text', (els) => els.map((e) => e.textContent ?? ''))).toContain(text),
        { alice, bob },
      );
      await telling(poll(mentioned).toEqual(want), { alice, bob });
    }
  });
});

describe('an edit the budget refuses', () => {
  it('sends itself again when the server lets it, and alice sees it', async () => {
    // Under load bob's third edit in a few seconds was refused rate_limited ("Try again in 0.0 s") and dropped:
    // alice never saw it. Here the first edit carol's page sends is answered so, as the budget answers it.
    let refused = 0;
    const carol = await open(browser, '', {}, (context) =>
      context.routeWebSocket(/./, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => {
          const f = JSON.parse(String(m)) as { action?: string; ref?: string };
          if (f.action !== 'edit' || refused++ > 0) return server.send(m);
          ws.send(JSON.stringify({ type: 'error', code: 'rate_limited', message: 'Too many requests. Try again in 0.3 s.', action: 'edit', ref: f.ref, retryAfterMs: 300 }));
        });
      }),
    );
    try {
      await join(carol, 'carol');
      await say(carol, 'Bring cake');
      await poll(() => shown(alice)).toContain('Bring cake');
      await carol.page.locator('#log .msg.public', { hasText: 'Bring cake' }).locator('button.edit').click();
      await carol.page.locator('#log .edit-form textarea').fill('Bring two cakes');
      await carol.page.keyboard.press('Enter');
      await telling(poll(() => shown(alice)).toContain('Bring two cakes (edited)'), { alice, carol });
      expect(refused).toBeGreaterThanOrEqual(2);
      expect(await carol.page.locator('#log .notice', { hasText: 'Too many requests' }).count()).toBe(0);
    } finally {
      await carol.context.close();
    }
  });
});
