// End to end with sign-in: deleting one's account from the page
// (docs/design.md, *Deleting an account*). scripts/test-e2e.sh runs this
// file against a local stack started with -auth cognito. dana, an account
// made for the test through the stack's local token endpoint (create=1),
// is signed in on a laptop and a phone beside alice. "Delete account" asks
// first and does nothing when the question is declined; confirmed, the
// laptop goes back to the sign-in form saying the account is deleted, the
// phone's connection is closed and the phone does not get back in, alice's
// page no longer lists dana, the name is free (alice takes it), and dana's
// sign-in account is gone: signing in with her password is refused.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, launch, members, open, poll, signIn, you, type Person } from './browser';

/** A room and an account of the test's own (the stack may be in use). */
const suffix = Date.now().toString(36).slice(-5);
const ROOM = `farewell-${suffix}`;
const DANA = `dana${suffix}`;
const PASSWORD = `${DANA}-local-Passw0rd`; // the password create=1 gives (docs/local.md)

let browser: Browser;
let alice: Person;
let laptop: Person; // dana's
let phone: Person; // dana's

beforeAll(async () => {
  const made = await fetch(`${BASE}/_local/token?user=${DANA}&create=1`);
  if (!made.ok) throw new Error(`the local issuer did not make ${DANA}: ${made.status} ${await made.text()}`);
  browser = await launch();
  alice = await open(browser);
  laptop = await open(browser);
  phone = await open(browser);
});

afterAll(async () => {
  await browser?.close();
});

async function joinAsSignedIn(p: Person): Promise<void> {
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Has the page's confirmation dialogs accepted from now on (open() dismisses them). */
function acceptDialogs(p: Person): void {
  p.page.removeAllListeners('dialog');
  p.page.on('dialog', (d) => {
    p.dialogs.push(d.message());
    void d.accept();
  });
}

describe('deleting an account from the page', () => {
  it('dana is in the room on her laptop and her phone, beside alice', async () => {
    await signIn(alice, 'alice');
    await joinAsSignedIn(alice);
    for (const p of [laptop, phone]) {
      await signIn(p, DANA, PASSWORD);
      await joinAsSignedIn(p);
    }
    await poll(async () => (await members(alice)).sort()).toEqual(['alice', DANA].sort());
  });

  it('asks first, and declined, deletes nothing', async () => {
    await laptop.page.click('#delete-account');
    await poll(async () => laptop.dialogs.at(-1) ?? '').toMatch(/^Delete your account\?/);
    expect(await laptop.page.getAttribute('#conn', 'data-state')).toBe('ready');
    expect(await laptop.page.isVisible('#signin-form')).toBe(false);
    expect(await members(alice)).toContain(DANA);
  });

  it('confirmed: every device of hers leaves, her name is free, and her sign-in is gone', async () => {
    const phoneSocket = phone.sockets.length - 1;
    acceptDialogs(laptop);
    await laptop.page.click('#delete-account');
    await laptop.page.waitForSelector('#signin-form:visible');
    await poll(async () => (await laptop.page.textContent('#signin-notice')) ?? '').toBe('Your account is deleted.');
    // The server closed the phone's connection, and the phone's token (and
    // its renewal: the sign-in account is deleted) lets it in no more.
    await poll(async () => phone.sockets[phoneSocket].closed).toBe(true);
    await phone.page.waitForSelector('#signin-form:visible', { timeout: 30_000 });
    expect(await phone.page.isVisible('#chat')).toBe(false);
    await poll(() => members(alice)).toEqual(['alice']);
    // Her name is free at once: alice takes it.
    await alice.page.click('#name-edit');
    await alice.page.fill('#name-input', DANA);
    await alice.page.press('#name-input', 'Enter');
    await poll(() => you(alice)).toEqual([DANA]);
    // Signing in again is refused: the sign-in account is deleted.
    await laptop.page.fill('#signin-username', DANA);
    await laptop.page.fill('#signin-password', PASSWORD);
    await laptop.page.click('#signin-submit');
    await poll(async () => (await laptop.page.textContent('#signin-error')) ?? '').not.toBe('');
    expect(await laptop.page.textContent('#signin-error')).toMatch(/Incorrect username or password|does not exist/);
    expect(await laptop.page.isVisible('#join-form')).toBe(false);
    expect([...laptop.errors, ...phone.errors, ...alice.errors]).toEqual([]);
  });
});
