// End to end, moderation (issue 24 item 3): scripts/test-e2e.sh runs this
// file against a fresh local stack started with -auth cognito, whose test
// account mod is in the issuer's moderators group. A person has a Remove on
// their own messages only, a moderator on every message; a removal shows in
// place on every page, and in the history of a page that joins after it. A
// moderator's controls on a member: a muted person's send is refused with the
// minutes left, shown in the message's place; a kick closes their room.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { members, open, poll, ROOM, say, signIn, launch, type Person } from './browser';

let browser: Browser;
let alice: Person;
let bob: Person;
let mod: Person;

beforeAll(async () => {
  browser = await launch();
  alice = await open(browser);
  bob = await open(browser);
  mod = await open(browser);
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

/** Each public message the page shows: its text, or what stands in its place, and whether it has a Remove. */
async function shown(p: Person): Promise<string[]> {
  return p.page.$$eval('#log .msg.public:not(.pending)', (els) =>
    els.map((e) => {
      const text = e.querySelector('.text')?.textContent ?? e.querySelector('.removal')?.textContent ?? '';
      return e.querySelector('button.remove') ? `${text} [Remove]` : text;
    }),
  );
}

async function removeOn(p: Person, text: string): Promise<void> {
  await p.page.locator('#log .msg.public', { hasText: text }).locator('button.remove').click();
}

describe('a moderator removes a message and everyone\'s page shows the removal', () => {
  it('a person has Remove on their own messages, a moderator on every one', async () => {
    await join(alice, 'alice');
    await join(bob, 'bob');
    await join(mod, 'mod');
    await say(alice, 'Hello from alice.');
    await poll(() => shown(bob)).toEqual(['Hello from alice.']);
    await say(bob, 'Buy cheap watches!');
    await poll(() => shown(alice)).toEqual(['Hello from alice. [Remove]', 'Buy cheap watches!']);
    await poll(() => shown(bob)).toEqual(['Hello from alice.', 'Buy cheap watches! [Remove]']);
    await poll(() => shown(mod)).toEqual(['Hello from alice. [Remove]', 'Buy cheap watches! [Remove]']);
  });

  it('the moderator removes bob\'s message: every page shows the removal in its place', async () => {
    await removeOn(mod, 'Buy cheap watches!');
    for (const p of [alice, bob, mod]) await poll(() => shown(p)).toContain('Message removed by a moderator.');
    expect(await shown(alice)).toEqual(['Hello from alice. [Remove]', 'Message removed by a moderator.']);
  });

  it('alice removes her own: she reads that she did, the others that its sender did', async () => {
    await removeOn(alice, 'Hello from alice.');
    await poll(() => shown(alice)).toEqual(['You removed this message.', 'Message removed by a moderator.']);
    for (const p of [bob, mod]) await poll(() => shown(p)).toEqual(['Message removed by its sender.', 'Message removed by a moderator.']);
  });

  it('a page that joins afterwards reads the removals from history, not the texts', async () => {
    const carol = await open(browser);
    await join(carol, 'carol');
    await poll(() => shown(carol)).toEqual(['Message removed by its sender.', 'Message removed by a moderator.']);
  });
});

describe('a moderator mutes, then kicks, a member', () => {
  it('the moderator has the controls on bob, a member has none', async () => {
    await poll(() => mod.page.locator('#members button[aria-label="Mute 5 min: bob"]').count()).toBe(1);
    expect(await alice.page.locator('#members .mod-controls').count()).toBe(0);
  });

  it('bob, muted, reads why his message was not sent and for how long', async () => {
    await mod.page.locator('#members button[aria-label="Mute 5 min: bob"]').click();
    await poll(() => bob.page.locator('#log', { hasText: 'A moderator muted you in this room for 5 minutes' }).count()).toBe(1);
    await say(bob, 'Can anyone hear me?');
    const status = bob.page.locator('#log .msg', { hasText: 'Can anyone hear me?' }).locator('.msg-status[data-kind="failed"]');
    await poll(() => status.textContent()).toContain('Not sent: You are muted in this room for 5 minutes more.');
    await poll(() => mod.page.locator('#log', { hasText: 'You muted bob for 5 minutes.' }).count()).toBe(1);
    expect(await alice.page.locator('#log .msg', { hasText: 'Can anyone hear me?' }).count()).toBe(0);
  });

  it('the kick closes bob\'s room: his page is back at the join form, saying why', async () => {
    await mod.page.locator('#members button[aria-label="Kick: bob"]').click();
    await poll(() => bob.page.locator('#chat').isHidden()).toBe(true);
    await poll(() => bob.page.locator('#join-error').textContent()).toBe('A moderator removed you from this room. You may join again.');
    await poll(() => members(mod)).not.toContain('bob');
  });
});
