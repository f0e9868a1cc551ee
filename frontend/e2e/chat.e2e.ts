// End to end: three people in three browser contexts of Debian's Chromium,
// driven by playwright-core, chat through the local stack (go run ./cmd/local)
// that scripts/test-e2e.sh starts. GROUPCHAT_E2E_URL is the stack's http://
// URL. The cases run in order and share the three pages, like one
// conversation.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BASE = process.env.GROUPCHAT_E2E_URL ?? '';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// scripts/test-e2e.sh starts a fresh stack (GROUPCHAT_E2E_FRESH=1), so the
// conversation can happen in the lobby; against a stack already in use it
// gets a room of its own.
const ROOM =
  process.env.GROUPCHAT_E2E_ROOM ??
  (process.env.GROUPCHAT_E2E_FRESH === '1' ? 'lobby' : `e2e-${Date.now().toString(36)}`);
const here = dirname(fileURLToPath(import.meta.url));
const SCREENSHOT =
  process.env.GROUPCHAT_UPDATE_SCREENSHOT === '1'
    ? resolve(here, '../../docs/screenshot.png')
    : resolve(here, '../e2e-output/screenshot.png');
const EVIL = '<img src=x onerror=alert(1)>';

interface Person {
  page: Page;
  context: BrowserContext;
  dialogs: string[];
  errors: string[];
}

let browser: Browser;
const people: Record<'alice' | 'bob' | 'carol', Person> = {} as never;

async function open(query = ''): Promise<Person> {
  const context = await browser.newContext({
    viewport: { width: 1000, height: 700 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  const page = await context.newPage();
  const p: Person = { page, context, dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    p.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => p.errors.push(String(e)));
  await page.goto(`${BASE}/${query}`);
  return p;
}

async function join(p: Person, name: string): Promise<void> {
  await p.page.fill('#join-name', name);
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

async function say(p: Person, text: string): Promise<void> {
  await p.page.fill('#message', text);
  await p.page.press('#message', 'Enter');
}

async function members(p: Person): Promise<string[]> {
  return p.page.$$eval('#members .member-name', (els) => els.map((e) => e.textContent ?? ''));
}

async function you(p: Person): Promise<string[]> {
  return p.page.$$eval('#members .is-you .member-name', (els) => els.map((e) => e.textContent ?? ''));
}

/** The texts of the messages shown, with their kind, sender and state. */
async function messages(p: Person): Promise<Array<{ kind: string; from: string; text: string; pending: boolean }>> {
  return p.page.$$eval('#log .msg', (els) =>
    els.map((e) => ({
      kind: e.classList.contains('private') ? 'private' : 'public',
      from: e.querySelector('.from')?.textContent ?? '',
      text: e.querySelector('.text')?.textContent ?? '',
      pending: e.classList.contains('pending'),
    })),
  );
}

async function texts(p: Person, kind?: string): Promise<string[]> {
  return (await messages(p)).filter((m) => !m.pending && (!kind || m.kind === kind)).map((m) => m.text);
}

async function notices(p: Person): Promise<string[]> {
  return p.page.$$eval('#log .notice > span', (els) => els.map((e) => e.textContent ?? ''));
}

const all = (): Person[] => [people.alice, people.bob, people.carol];
const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 100 });

beforeAll(async () => {
  if (!BASE) throw new Error('GROUPCHAT_E2E_URL is not set: run scripts/test-e2e.sh, which starts the local stack');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  // Alice's page waits 3–6 s before reconnecting, so that a message can be
  // typed while it is down; the others use the default backoff.
  people.alice = await open('?backoff=6000');
  people.bob = await open();
  people.carol = await open();
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
    await poll(() => notices(people.alice)).toEqual(['Bob joined', 'Carol joined']);
  });

  it('a public message reaches all three, once each', async () => {
    await say(people.alice, 'Morning all! Stand-up in five minutes.');
    await say(people.bob, 'On my way.');
    await say(people.carol, 'Could someone share the agenda?');
    const want = ['Morning all! Stand-up in five minutes.', 'On my way.', 'Could someone share the agenda?'];
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

    await people.bob.page.check('#members input[data-name="Alice"]');
    await say(people.bob, 'Sure, happy to.');
    await people.bob.page.click('#to-clear');

    for (const p of [people.alice, people.bob]) {
      await poll(() => texts(p, 'private')).toEqual(['Bob, could you take the notes today?', 'Sure, happy to.']);
    }
    expect(await people.bob.page.textContent('#log .msg.private .to')).toBe('to you');

    // A public message after the private ones reaches Carol last: once she has
    // it, the private ones would have arrived before it if they were coming.
    await say(people.alice, 'Agenda: demo, then the release plan.');
    await poll(() => texts(people.carol, 'public')).toContain('Agenda: demo, then the release plan.');
    const carolSees = await people.carol.page.textContent('body');
    expect(carolSees).not.toContain('notes today');
    expect(carolSees).not.toContain('happy to');
    expect(await texts(people.carol, 'private')).toEqual([]);

    await people.bob.page.screenshot({ path: screenshotPath() });
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
    const dave = await open();
    try {
      await join(dave, 'ALICE');
      const warning = (await dave.page.textContent('#name-error')) ?? '';
      expect(warning).toMatch(/ALICE/);
      expect(await dave.page.textContent('#my-name')).toMatch(/^guest-\d{4}$/);
      expect(warning).toContain((await dave.page.textContent('#my-name')) ?? '?');
      // The room's recent public history arrives with the state; private messages are not in it.
      expect(await texts(dave, 'public')).toEqual([
        'Morning all! Stand-up in five minutes.',
        'On my way.',
        'Could someone share the agenda?',
        'Agenda: demo, then the release plan.',
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
    const res = await fetch(`${BASE}/_local/connections`, { method: 'DELETE' });
    expect(res.status).toBe(200);
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

  it('the pages raised no script errors and no dialogs', () => {
    for (const p of all()) {
      expect(p.errors).toEqual([]);
      expect(p.dialogs).toEqual([]);
    }
  });
});

function screenshotPath(): string {
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  return SCREENSHOT;
}
