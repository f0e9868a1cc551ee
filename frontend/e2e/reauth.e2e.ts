// Signing in again in band (issue 24): scripts/test-e2e.sh runs this file
// against a local stack whose issuer's tokens last 30 seconds
// (-auth-token-validity 30s). The page renews its token halfway through its
// life and sends reauth on the open socket: past the expiry of the token it
// connected with, the room is still there (its log, its member list, the one
// socket) and messages still go both ways, none refused.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, members, open, ROOM, say, signIn, texts, tokenOf, type Person } from './browser';

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

async function joinAsSignedIn(p: Person): Promise<void> {
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** The exp of the token a WebSocket URL carries, in ms. */
function expiryOf(url: string): number {
  const payload = (tokenOf(url) ?? '').split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp: number }).exp * 1000;
}

/** Waits, with a deadline, for what the page shows to match. */
const until = <T>(fn: () => Promise<T> | T, timeout: number) => expect.poll(fn, { timeout, interval: 250 });

describe('signing in again in band', () => {
  it('keeps the room past the token it connected with: log, member list and socket stay, and messages go both ways', async () => {
    for (const [p, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      await signIn(p, user);
      await joinAsSignedIn(p);
    }
    for (const p of [alice, bob]) await until(() => members(p), 15_000).toEqual(['alice', 'bob']);
    await say(alice, 'Before the renewal.');
    for (const p of [alice, bob]) await until(() => texts(p, 'public'), 15_000).toEqual(['Before the renewal.']);
    const sockets = [alice.sockets.length, bob.sockets.length];
    expect(sockets).toEqual([1, 1]);

    // The page renews halfway through the 30 s and signs in again in band.
    for (const p of [alice, bob]) await until(() => p.frames.filter((t) => t === 'reauthed').length, 40_000).toBeGreaterThan(0);
    // Past the expiry of the token each connected with: still the same room.
    const expired = Math.max(expiryOf(alice.sockets[0].url), expiryOf(bob.sockets[0].url)) + 1_000;
    await until(() => Date.now() > expired, 40_000).toBe(true);
    expect([alice.sockets.length, bob.sockets.length]).toEqual(sockets);
    expect(alice.sockets[0].closed || bob.sockets[0].closed).toBe(false);
    for (const p of [alice, bob]) {
      expect(await p.page.getAttribute('#conn', 'data-state')).toBe('ready');
      expect(await members(p)).toEqual(['alice', 'bob']);
      expect(await texts(p, 'public')).toEqual(['Before the renewal.']);
    }

    await say(bob, 'After the renewal.');
    await until(() => texts(alice, 'public'), 15_000).toContain('After the renewal.');
    await say(alice, 'Still here.');
    for (const p of [alice, bob]) {
      await until(() => texts(p, 'public'), 15_000).toEqual(['Before the renewal.', 'After the renewal.', 'Still here.']);
    }
    // Nothing was refused (reauth_required) and nothing reconnected.
    for (const p of [alice, bob]) expect(p.frames).not.toContain('error');
    expect([alice.sockets.length, bob.sockets.length]).toEqual(sockets);
  });
});
