// Shared by the browser tests: launching Debian's Chromium through
// playwright-core, opening a person's page, and reading what the page shows.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** The local stack's http:// URL; scripts/test-e2e.sh sets it. */
export const BASE = process.env.GROUPCHAT_E2E_URL ?? '';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * scripts/test-e2e.sh starts a fresh stack (GROUPCHAT_E2E_FRESH=1), so the
 * conversation can happen in the lobby; against a stack already in use each
 * run gets a room of its own.
 */
export const ROOM =
  process.env.GROUPCHAT_E2E_ROOM ??
  (process.env.GROUPCHAT_E2E_FRESH === '1' ? 'lobby' : `e2e-${Date.now().toString(36)}`);

export interface Person {
  page: Page;
  context: BrowserContext;
  dialogs: string[];
  errors: string[];
  /** Every WebSocket the page opened, in order: its URL, and whether it has closed (or failed its handshake). */
  sockets: Array<{ url: string; closed: boolean }>;
  /** The type of every frame the page received, on any of its sockets, in order. */
  frames: string[];
  /** Every error frame the page received, as "action code: message", in order: what a failing check shows. */
  refusals: string[];
}

/**
 * The local issuer's test accounts (cmd/local -auth cognito makes them; their
 * fixed, public passwords are in docs/local.md and printed by the stack).
 */
export const PASSWORDS: Record<string, string> = {
  alice: 'alice-local-Passw0rd',
  bob: 'bob-local-Passw0rd',
  carol: 'carol-local-Passw0rd',
  mod: 'mod-local-Passw0rd', // a member of the local issuer's moderators group
};

/** Starts headless Chromium; throws (the tests fail, never skip) when it cannot. */
export async function launch(): Promise<Browser> {
  if (!BASE) throw new Error('GROUPCHAT_E2E_URL is not set: run scripts/test-e2e.sh, which starts the local stack');
  return chromium.launch({
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
}

/** How a person's browser looks: its window size and colour scheme. */
export interface Look {
  viewport?: { width: number; height: number };
  colorScheme?: 'light' | 'dark';
}

/** A phone (an iPhone's CSS size) and a desktop window. */
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/**
 * A person: a browser context of their own (own storage) with the page open.
 * before runs on the context before the page loads (e.g. to install a clock
 * the test moves: context.clock.install()).
 */
export async function open(
  browser: Browser,
  query = '',
  look: Look = {},
  before?: (context: BrowserContext) => Promise<void>,
): Promise<Person> {
  const context = await browser.newContext({
    viewport: look.viewport ?? { width: 1000, height: 700 },
    colorScheme: look.colorScheme ?? 'light',
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  await before?.(context);
  const page = await context.newPage();
  const p: Person = { page, context, dialogs: [], errors: [], sockets: [], frames: [], refusals: [] };
  page.on('websocket', (ws) => {
    const s = { url: ws.url(), closed: false };
    p.sockets.push(s);
    ws.on('framereceived', (f) => {
      try {
        const frame = JSON.parse(String(f.payload)) as { type?: unknown; action?: unknown; code?: unknown; message?: unknown };
        if (typeof frame.type === 'string') p.frames.push(frame.type);
        if (frame.type === 'error') p.refusals.push(`${String(frame.action)} ${String(frame.code)}: ${String(frame.message)}`);
      } catch {
        // Not JSON: not a frame of the chat's.
      }
    });
    ws.on('close', () => (s.closed = true));
    ws.on('socketerror', () => (s.closed = true));
  });
  page.on('dialog', (d) => {
    p.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => p.errors.push(String(e)));
  await page.goto(`${BASE}/${query}`);
  return p;
}

export async function join(p: Person, name: string, room = ROOM): Promise<void> {
  await p.page.waitForSelector('#join-form[data-ready]', { state: 'attached' }); // the page's script has prefilled it
  await p.page.fill('#join-name', name);
  await p.page.fill('#join-room', room);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Signs in through the page's form and waits for the join form. */
export async function signIn(p: Person, user: string, password = PASSWORDS[user]): Promise<void> {
  await p.page.waitForSelector('#signin-form:visible');
  await p.page.fill('#signin-username', user);
  await p.page.fill('#signin-password', password);
  await p.page.click('#signin-submit');
  await p.page.waitForSelector('#join-form:visible');
}

/** The token parameter of a WebSocket URL. */
export function tokenOf(url: string): string | null {
  return new URL(url).searchParams.get('token');
}

export async function say(p: Person, text: string): Promise<void> {
  await p.page.fill('#message', text);
  await p.page.press('#message', 'Enter');
}

export async function members(p: Person): Promise<string[]> {
  return p.page.$$eval('#members .member-name', (els) => els.map((e) => e.textContent ?? ''));
}

export async function you(p: Person): Promise<string[]> {
  return p.page.$$eval('#members .is-you .member-name', (els) => els.map((e) => e.textContent ?? ''));
}

/** The messages shown, with their kind, sender and whether they are still pending. */
export async function messages(
  p: Person,
): Promise<Array<{ kind: string; from: string; text: string; pending: boolean }>> {
  return p.page.$$eval('#log .msg', (els) =>
    els.map((e) => ({
      kind: e.classList.contains('private') ? 'private' : 'public',
      from: e.querySelector('.from')?.textContent ?? '',
      text: e.querySelector('.text')?.textContent ?? '',
      pending: e.classList.contains('pending'),
    })),
  );
}

/** The texts of the confirmed messages, optionally of one kind. */
export async function texts(p: Person, kind?: string): Promise<string[]> {
  return (await messages(p)).filter((m) => !m.pending && (!kind || m.kind === kind)).map((m) => m.text);
}

export async function notices(p: Person): Promise<string[]> {
  return p.page.$$eval('#log .notice > span', (els) => els.map((e) => e.textContent ?? ''));
}

/** Waits for what the page shows to match: frames arrive asynchronously. */
export const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 100 });

/**
 * Waits until the page is ready on a socket it opened after its first
 * `before` ones. Right after the stack drops a connection the page may still
 * say "ready" of the old one, until it handles the close (on a loaded machine
 * that took long enough for a test to read the old "ready" as the new one).
 */
export async function readyAgain(p: Person, before: number, timeout = 30_000): Promise<void> {
  await expect
    .poll(
      async () => p.sockets.length > before && !p.sockets.at(-1)!.closed && (await p.page.getAttribute('#conn', 'data-state')) === 'ready',
      { timeout, interval: 100 },
    )
    .toBe(true);
}

/** Asks the local stack to close every connection with 1001, as API Gateway's 2-hour limit does. */
export async function dropAllConnections(): Promise<void> {
  const res = await fetch(`${BASE}/_local/connections`, { method: 'DELETE' });
  expect(res.status).toBe(200);
}

/**
 * Awaits check; failing, adds what each person's page was refused and the
 * last frames it received to the failure, so that a check failed under load
 * says what happened on the wire.
 */
export async function telling<T>(check: Promise<T>, people: Record<string, Person>): Promise<T> {
  try {
    return await check;
  } catch (e) {
    const told = Object.entries(people).map(
      ([name, p]) => `${name} was refused ${JSON.stringify(p.refusals)}; last frames ${JSON.stringify(p.frames.slice(-12))}`,
    );
    (e as Error).message += `\n${told.join('\n')}`;
    throw e;
  }
}
