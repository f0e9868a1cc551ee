// End to end when the stack loses $disconnect events, as AWS may (delivery is
// best effort): scripts/test-e2e.sh runs this file against a second local
// stack started with -fault-drop-disconnect 1, so every dropped connection's
// record — and its claim on the name — outlives it. Reconnecting pages present
// their resume token and get their own names back at once.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropAllConnections, join, launch, members, notices, open, poll, say, texts, type Person } from './browser';

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

describe('connections whose $disconnect never ran', () => {
  it('pages reconnect with their own names and chat goes on', async () => {
    await join(alice, 'Alice');
    await join(bob, 'Bob');
    for (const p of [alice, bob]) await poll(() => members(p)).toEqual(['Alice', 'Bob']);

    await dropAllConnections();
    for (const p of [alice, bob]) {
      await p.page.waitForSelector('#conn[data-state="waiting"]', { timeout: 5_000 });
    }
    for (const p of [alice, bob]) await p.page.waitForSelector('#conn[data-state="ready"]', { timeout: 20_000 });

    expect(await alice.page.textContent('#my-name')).toBe('Alice');
    expect(await bob.page.textContent('#my-name')).toBe('Bob');
    for (const p of [alice, bob]) {
      // Never a guest, not even for a moment: the token took the name over.
      expect(await p.page.textContent('#name-error')).toBe('');
      expect((await notices(p)).filter((n) => /guest-|taken/.test(n))).toEqual([]);
      await poll(() => members(p)).toEqual(['Alice', 'Bob']);
    }

    // Bob answers once Alice's message is everywhere: messages sent at the
    // same moment by different people may arrive in either order.
    await say(alice, 'Still me.');
    for (const p of [alice, bob]) await poll(() => texts(p, 'public')).toContain('Still me.');
    await say(bob, 'Me too.');
    for (const p of [alice, bob]) await poll(() => texts(p, 'public')).toEqual(['Still me.', 'Me too.']);
    for (const p of [alice, bob]) expect(p.errors).toEqual([]);
  });
});
