// End to end: three people in three browser contexts of Debian's Chromium,
// driven by playwright-core, chat through the local stack (cmd/local) that
// scripts/test-e2e.sh starts. The cases run in order and share the three
// pages, like one conversation.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropAllConnections,
  join,
  launch,
  members,
  messages,
  notices,
  open,
  poll,
  ROOM,
  say,
  texts,
  you,
  type Person,
} from './browser';

const here = dirname(fileURLToPath(import.meta.url));
const SCREENSHOT =
  process.env.GROUPCHAT_UPDATE_SCREENSHOT === '1'
    ? resolve(here, '../../docs/screenshot.png')
    : resolve(here, '../e2e-output/screenshot.png');
const EVIL = '<img src=x onerror=alert(1)>';

let browser: Browser;
const people: Record<'alice' | 'bob' | 'carol', Person> = {} as never;

const all = (): Person[] => [people.alice, people.bob, people.carol];

beforeAll(async () => {
  browser = await launch();
  // Alice's page waits 3–6 s before reconnecting, so that a message can be
  // typed while it is down; the others use the default backoff.
  people.alice = await open(browser, '?backoff=6000');
  people.bob = await open(browser);
  people.carol = await open(browser);
});

afterAll(async () => {
  await browser?.close();
});

describe('three people in one room', () => {
  it('join and see each other, each marked "you" in their own list', async () => {
    await join(people.alice, 'Alice');
    await join(people.bob, 'Bob');
    await join(people.carol, 'Carol');
    for (const p of all()) await poll(() => members(p)).toEqual(['Alice', 'Bob', 'Carol']);
    expect(await you(people.alice)).toEqual(['Alice']);
    expect(await you(people.bob)).toEqual(['Bob']);
    expect(await you(people.carol)).toEqual(['Carol']);
    expect(await people.alice.page.textContent('#my-name')).toBe('Alice');
    expect(await people.alice.page.textContent('#room-label')).toBe(`#${ROOM}`);
    // Joins close together are one line (bursts.ts); these two may or may not be.
    await poll(async () => (await notices(people.alice)).join(' | ')).toMatch(/^(Bob joined \| Carol joined|Bob and Carol joined)$/);
  });

  it('a public message reaches all three, once each', async () => {
    const want = ['Morning all! Stand-up in five minutes.', 'On my way.', '@Bob could you share the agenda?'];
    // Each answers once the last message is everywhere: messages sent at the
    // same moment by different people may arrive in either order.
    for (const [i, p] of [people.alice, people.bob, people.carol].entries()) {
      await say(p, want[i]);
      for (const q of all()) await poll(() => texts(q, 'public')).toContain(want[i]);
    }
    for (const p of all()) await poll(() => texts(p, 'public')).toEqual(want);
    const mine = (await messages(people.alice)).find((m) => m.text === want[0]);
    expect(mine?.from).toBe('Alice (you)');
  });

  it('a private message from Alice to Bob shows for Alice and Bob, never for Carol', async () => {
    const a = people.alice.page;
    await a.check('#members input[data-name="Bob"]');
    expect(await a.textContent('#to-text')).toBe('Privately to Bob');
    await say(people.alice, 'Bob, could you take the notes today?');
    await a.click('#to-clear');
    expect(await a.textContent('#to-text')).toBe('To everyone');
    // Bob answers what he has read: his reply is sent once Alice's message
    // shows on his page (and, confirmed, on hers), else the two may show in
    // either order.
    for (const p of [people.alice, people.bob]) {
      await poll(() => texts(p, 'private')).toEqual(['Bob, could you take the notes today?']);
    }

    await people.bob.page.check('#members input[data-name="Alice"]');
    await say(people.bob, 'Sure, happy to.');
    await people.bob.page.click('#to-clear');

    for (const p of [people.alice, people.bob]) {
      await poll(() => texts(p, 'private')).toEqual(['Bob, could you take the notes today?', 'Sure, happy to.']);
    }
    expect(await people.bob.page.textContent('#log .msg.private .to')).toBe('to you');

    // A public message after the private ones reaches Carol last: once she has
    // it, the private ones would have arrived before it if they were coming.
    await say(people.alice, AGENDA);
    await poll(() => texts(people.carol, 'public')).toContain(AGENDA);
    const carolSees = await people.carol.page.textContent('body');
    expect(carolSees).not.toContain('notes today');
    expect(carolSees).not.toContain('happy to');
    expect(await texts(people.carol, 'private')).toEqual([]);

    // The picture of docs/frontend.md shows what a person meets in a room:
    // Bob edits his message ("(edited)"), Carol's @Bob is highlighted on his
    // page, Alice's link is a link, and Carol is typing.
    const b = people.bob.page;
    await b.locator('#log .msg.public', { hasText: 'On my way.' }).locator('button.edit').click();
    await b.locator('#log .edit-form textarea').fill(EDITED);
    await b.keyboard.press('Enter');
    for (const p of all()) await poll(() => texts(p, 'public')).toContain(EDITED);
    expect(await b.$$eval('#log .msg.public.mention .text', (els) => els.map((e) => e.textContent))).toEqual(['@Bob could you share the agenda?']);
    expect(await b.getAttribute('#log .msg.public .text a', 'href')).toBe('https://wiki.example.com/standup');
    await people.carol.page.fill('#message', 'Sure, one moment');
    await poll(() => b.textContent('#typing')).toMatch(/Carol is typing/);
    await b.screenshot({ path: screenshotPath() });
    await people.carol.page.fill('#message', '');
  });

  it('the length counter shows the server\'s bound', async () => {
    const c = people.carol.page;
    await c.fill('#message', 'héllo');
    expect(await c.textContent('#counter')).toBe('5 / 2000');
    await c.fill('#message', '');
  });

  it('a rename updates every list', async () => {
    const b = people.bob.page;
    await b.click('#name-edit');
    await b.fill('#name-input', 'Robert');
    await b.press('#name-input', 'Enter');
    for (const p of all()) await poll(() => members(p)).toEqual(['Alice', 'Carol', 'Robert']);
    expect(await b.textContent('#my-name')).toBe('Robert');
    expect(await you(people.bob)).toEqual(['Robert']);
    await poll(() => notices(people.alice)).toContain('Bob is now Robert');
  });

  it('a taken name shows the server\'s message next to the name', async () => {
    const b = people.bob.page;
    await b.click('#name-edit');
    await b.fill('#name-input', 'alice');
    await b.press('#name-input', 'Enter');
    await poll(async () => (await b.textContent('#name-error')) ?? '').toMatch(/alice/i);
    expect(await b.textContent('#my-name')).toBe('Robert');
    for (const p of all()) expect(await members(p)).toEqual(['Alice', 'Carol', 'Robert']);
  });

  it('a late joiner gets the public history; a taken name shows the server\'s warning and a guest name', async () => {
    const dave = await open(browser);
    try {
      await join(dave, 'ALICE');
      const warning = (await dave.page.textContent('#name-error')) ?? '';
      expect(warning).toMatch(/ALICE/);
      expect(await dave.page.textContent('#my-name')).toMatch(/^guest-\d{4}$/);
      expect(warning).toContain((await dave.page.textContent('#my-name')) ?? '?');
      // The room's recent public history arrives with the state; private messages are not in it.
      expect(await texts(dave, 'public')).toEqual([
        'Morning all! Stand-up in five minutes.',
        EDITED,
        '@Bob could you share the agenda?',
        AGENDA,
      ]);
      expect(await texts(dave, 'private')).toEqual([]);
    } finally {
      await dave.context.close();
    }
    for (const p of all()) await poll(() => members(p)).toEqual(['Alice', 'Carol', 'Robert']);
  });

  it('a name with HTML in it shows as text and runs nothing', async () => {
    const c = people.carol.page;
    await c.click('#name-edit');
    await c.fill('#name-input', EVIL);
    await c.press('#name-input', 'Enter');
    for (const p of all()) await poll(() => members(p)).toContain(EVIL);
    await say(people.carol, '<b>not bold</b>');
    for (const p of all()) {
      await poll(() => texts(p, 'public')).toContain('<b>not bold</b>');
      const m = (await messages(p)).find((x) => x.text === '<b>not bold</b>');
      expect(m?.from.startsWith(EVIL)).toBe(true);
      expect(await p.page.$$eval('#log img, #members img, #log b, #my-name img', (e) => e.length)).toBe(0);
    }
    expect(await c.textContent('#my-name')).toBe(EVIL);
    for (const p of all()) expect(p.dialogs).toEqual([]);
  });

  it('after the stack drops every connection, the pages reconnect by themselves and chat goes on', async () => {
    await dropAllConnections();
    const a = people.alice.page;
    await a.waitForSelector('#conn[data-state="waiting"]', { timeout: 5_000 });
    expect(await a.textContent('#conn-text')).toMatch(/Connection lost — reconnecting in \d+ s/);

    // Sent while down: queued, visibly, then delivered after the reconnect.
    await say(people.alice, 'Typed while the connection was down.');
    const status = await a.textContent('#log .msg.pending .msg-status');
    expect(status).toMatch(/Queued/);

    for (const p of all()) await p.page.waitForSelector('#conn[data-state="ready"]', { timeout: 20_000 });
    for (const p of all()) {
      await poll(() => texts(p, 'public')).toContain('Typed while the connection was down.');
      expect((await texts(p, 'public')).filter((t) => t === 'Typed while the connection was down.')).toHaveLength(1);
      await poll(() => members(p)).toEqual([EVIL, 'Alice', 'Robert']);
      expect(await notices(p)).toContain('Reconnected.');
    }
    expect(await a.$$eval('#log .msg.pending', (e) => e.length)).toBe(0);

    await say(people.bob, 'Back again.');
    for (const p of all()) await poll(() => texts(p, 'public')).toContain('Back again.');
  });

  it('a leave updates every list', async () => {
    await people.carol.page.click('#leave');
    await people.carol.page.waitForSelector('#join-form');
    for (const p of [people.alice, people.bob]) {
      await poll(() => members(p)).toEqual(['Alice', 'Robert']);
      await poll(() => notices(p)).toContain(`${EVIL} left`);
    }
  });

  it('messages over the rate limit show a countdown and send themselves when allowed, in order', async () => {
    const burst = Array.from({ length: 25 }, (_, i) => `burst ${i + 1}`);
    for (const m of burst) await say(people.bob, m);
    // The server refused some (20 in any 10 s): they wait on Robert's page, saying so.
    await poll(() => people.bob.page.$$eval('#log .msg-status', (els) => els.map((e) => e.textContent ?? '').join(' | '))).toMatch(
      /Too many messages at once: it sends itself when allowed, in \d+ s/,
    );
    // Typed while they wait: it goes after them.
    await say(people.bob, 'after the wait');
    // Each arrives once; those sent before the first refusal came back may have
    // passed the refused ones (the window slid meanwhile), but what waited goes
    // out in order, and what was typed after, after.
    const order = (t: string) => (t === 'after the wait' ? 26 : Number(t.slice('burst '.length)));
    for (const p of [people.alice, people.bob]) {
      await expect
        .poll(async () => (await texts(p, 'public')).filter((t) => t.startsWith('burst ') || t === 'after the wait'), {
          timeout: 45_000,
          interval: 200,
        })
        .toHaveLength(26);
      const got = (await texts(p, 'public')).filter((t) => t.startsWith('burst ') || t === 'after the wait');
      expect([...got].sort((x, y) => order(x) - order(y))).toEqual([...burst, 'after the wait']);
      expect(got.at(-1)).toBe('after the wait');
    }
    expect(await people.bob.page.$$eval('#log .msg.pending', (e) => e.length)).toBe(0);
  });

  it('private messages to two, priced 2 units each, over the rate limit count down and send themselves, in order', async () => {
    // A private message costs 1 and 1 more per 2 recipients (docs/protocol.md, *Rate limits*): 12 to Alice and
    // Dave are 24 units, more than the 20 of any 10 s, so the server refuses some at their own price.
    const dave = await open(browser);
    try {
      await join(dave, 'Dave');
      await poll(() => members(people.bob)).toEqual(['Alice', 'Dave', 'Robert']);
      const b = people.bob.page;
      await b.check('#members input[data-name="Alice"]');
      await b.check('#members input[data-name="Dave"]');
      expect(await b.textContent('#to-text')).toBe('Privately to Alice, Dave');
      const burst = Array.from({ length: 12 }, (_, i) => `to two ${i + 1}`);
      for (const m of burst) await say(people.bob, m);
      await b.click('#to-clear');
      await poll(() => b.$$eval('#log .msg-status', (els) => els.map((e) => e.textContent ?? '').join(' | '))).toMatch(
        /Too many messages at once: it sends itself when allowed, in \d+ s/,
      );
      const order = (t: string) => Number(t.slice('to two '.length));
      for (const p of [people.alice, dave, people.bob]) {
        await expect
          .poll(async () => (await texts(p, 'private')).filter((t) => t.startsWith('to two ')), { timeout: 45_000, interval: 200 })
          .toHaveLength(12);
        const got = (await texts(p, 'private')).filter((t) => t.startsWith('to two '));
        expect([...got].sort((x, y) => order(x) - order(y))).toEqual(burst);
      }
      expect(await b.$$eval('#log .msg.pending', (e) => e.length)).toBe(0);
      expect(dave.errors).toEqual([]);
    } finally {
      await dave.context.close();
    }
  });

  it('the pages raised no script errors and no dialogs', () => {
    for (const p of all()) {
      expect(p.errors).toEqual([]);
      expect(p.dialogs).toEqual([]);
    }
  });
});

describe('a message of yours that waits for its answer', () => {
  it('goes below a message sent before it that arrived meanwhile, once the server confirms it', async () => {
    // Under load bob's answer stayed above alice's question: her message
    // came while his waited, went below his bubble, and his confirmation
    // kept the bubble's place. Here Dave's send is held on its way to the
    // server until Erin's message, stored first, shows on his page.
    let hold = true;
    const held: Array<() => void> = [];
    const dave = await open(browser, '', {}, (context) =>
      context.routeWebSocket(/./, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => {
          if (hold && String(m).includes('"sendPublic"')) held.push(() => server.send(m));
          else server.send(m);
        });
      }),
    );
    const erin = await open(browser);
    try {
      await join(dave, 'Dave', 'waiting');
      await join(erin, 'Erin', 'waiting');
      await say(dave, 'second');
      await poll(async () => held.length).toBe(1);
      await say(erin, 'first');
      await poll(() => texts(dave, 'public')).toEqual(['first']);
      hold = false;
      held.shift()!();
      await poll(() => messages(dave)).toEqual([
        { kind: 'public', from: 'Erin', text: 'first', pending: false },
        { kind: 'public', from: 'Dave (you)', text: 'second', pending: false },
      ]);
      await poll(() => texts(erin, 'public')).toEqual(['first', 'second']);
      expect(dave.errors).toEqual([]);
    } finally {
      await dave.context.close();
      await erin.context.close();
    }
  });
});

describe('a leave that missed a page which had just connected', () => {
  it('is said when the page learns it by reading the list', async () => {
    // Under load bob reconnected 94 ms before carol signed out: her `left` went out while the room index did not
    // list his new connection yet, and his settle hello took her off his list without a word. Here Gus's page never
    // gets Hal's `left`, and its settle hello (its second hello) waits until Hal has gone.
    const room = 'settling';
    let release: (() => void) | undefined;
    const gus = await open(browser, '', {}, (context) =>
      context.routeWebSocket(/./, (ws) => {
        const server = ws.connectToServer();
        let hellos = 0;
        ws.onMessage((m) => {
          if ((JSON.parse(String(m)) as { action?: string }).action === 'hello' && ++hellos === 2) release = () => server.send(m);
          else server.send(m);
        });
        server.onMessage((m) => {
          const f = JSON.parse(String(m)) as { type?: string; name?: string };
          if (f.type !== 'left' || f.name !== 'Hal') ws.send(m);
        });
      }),
    );
    const fay = await open(browser);
    const hal = await open(browser);
    try {
      await join(hal, 'Hal', room);
      await join(fay, 'Fay', room);
      await poll(() => members(fay)).toEqual(['Fay', 'Hal']);
      await join(gus, 'Gus', room);
      await poll(async () => release !== undefined).toBe(true);
      await poll(() => members(gus)).toEqual(['Fay', 'Gus', 'Hal']);
      await hal.page.click('#leave');
      await poll(() => notices(fay)).toContain('Hal left');
      release!();
      await poll(() => members(gus)).toEqual(['Fay', 'Gus']);
      await poll(() => notices(gus)).toContain('Hal left');
      expect(gus.errors).toEqual([]);
    } finally {
      for (const p of [gus, fay, hal]) await p.context.close();
    }
  });
});

describe('a server that cannot be reached', () => {
  it('says where the WebSocket URL came from', async () => {
    // Nothing listens on port 1: the first attempt fails at once.
    const lost = await open(browser, `?ws=${encodeURIComponent('ws://127.0.0.1:1/local')}`);
    try {
      await lost.page.fill('#join-name', 'Nobody');
      await lost.page.fill('#join-room', ROOM);
      await lost.page.press('#join-room', 'Enter');
      await lost.page.waitForSelector('#conn[data-state="waiting"]');
      expect(await lost.page.textContent('#conn-msg')).toBe('Cannot reach the chat server (URL from ?ws=) — reconnecting');
      expect(lost.errors).toEqual([]);
    } finally {
      await lost.context.close();
    }
  });
});

const AGENDA = 'Agenda: https://wiki.example.com/standup — demo, then the release plan.';
const EDITED = 'On my way, two minutes out.';

function screenshotPath(): string {
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  return SCREENSHOT;
}
