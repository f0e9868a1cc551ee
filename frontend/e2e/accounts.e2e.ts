// End to end with sign-in (issue 12): names that belong to accounts, and one
// person on several devices. scripts/test-e2e.sh runs this file against a
// fresh local stack started with -auth cognito (cognito-local's test accounts
// alice, bob and carol). alice signs in on a phone-sized page and on a
// laptop: both pages are alice, her private messages reach both, and what
// she says on one shows on the other. Once she has signed out, her name is
// still hers: bob cannot become "alice", "ALICE" or a look-alike of it, nor
// take the name carol renamed herself to after carol signs out.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, dropAllConnections, members, messages, notices, open, PHONE, poll, ROOM, say, signIn, texts, you, launch, type Person } from './browser';

let browser: Browser;
let phone: Person; // alice's phone
let laptop: Person; // alice's laptop
let bob: Person;
let carol: Person;

beforeAll(async () => {
  browser = await launch();
  phone = await open(browser, '', { viewport: PHONE });
  laptop = await open(browser, '', { viewport: DESKTOP });
  bob = await open(browser);
  carol = await open(browser);
});

afterAll(async () => {
  await browser?.close();
});

/** Joins the room with the name the join form was given after signing in (the username). */
async function joinAsSignedIn(p: Person): Promise<void> {
  await p.page.fill('#join-room', ROOM);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Asks for a new name through the name bar (left open by a refused name). */
async function rename(p: Person, name: string): Promise<void> {
  if (!(await p.page.isVisible('#name-input'))) await p.page.click('#name-edit');
  await p.page.fill('#name-input', name);
  await p.page.press('#name-input', 'Enter');
}

async function signOut(p: Person): Promise<void> {
  await p.page.click('#sign-out');
  await p.page.waitForSelector('#signin-form:visible');
}

describe('one person on two devices', () => {
  it('alice on her phone and her laptop is one alice in the room, on both pages', async () => {
    for (const [p, user] of [
      [phone, 'alice'],
      [laptop, 'alice'],
      [bob, 'bob'],
      [carol, 'carol'],
    ] as const) {
      await signIn(p, user);
      await joinAsSignedIn(p);
    }
    for (const p of [phone, laptop, bob, carol]) await poll(() => members(p)).toEqual(['alice', 'bob', 'carol']);
    expect(await you(phone)).toEqual(['alice']);
    expect(await you(laptop)).toEqual(['alice']);
  });

  it('a private message to alice reaches both of her pages, once each, and nobody else', async () => {
    await bob.page.check('#members input[data-name="alice"]');
    await say(bob, 'alice, this is for you.');
    await bob.page.click('#to-clear');
    for (const p of [phone, laptop, bob]) await poll(() => texts(p, 'private')).toEqual(['alice, this is for you.']);
    expect(await texts(carol, 'private')).toEqual([]);
  });

  it('what alice says on one device shows on the other', async () => {
    await say(phone, 'Typed on my phone.');
    for (const p of [laptop, bob, carol]) await poll(() => texts(p, 'public')).toContain('Typed on my phone.');
    await laptop.page.check('#members input[data-name="bob"]');
    await say(laptop, 'bob, from my laptop.');
    await laptop.page.click('#to-clear');
    for (const p of [phone, laptop, bob]) await poll(() => texts(p, 'private')).toContain('bob, from my laptop.');
    expect(await texts(phone, 'public')).toEqual(['Typed on my phone.']);
    expect(await texts(carol, 'private')).toEqual([]);
  });

  it('a page that joins after alice became Alicia lists her as Alicia (@alice)', async () => {
    await rename(laptop, 'Alicia');
    await poll(() => you(phone)).toEqual(['Alicia']);
    // bob on another device: his page heard no joined or renamed of hers, only the room's list.
    const late = await open(browser);
    await signIn(late, 'bob');
    await joinAsSignedIn(late);
    await poll(() => late.page.$$eval('#members .member-label', (els) => els.map((e) => e.textContent))).toContain('Alicia (@alice)');
    await late.context.close();
  });
});

describe('a name stays its account’s while its owner is away', () => {
  it('after alice signs out, bob cannot become alice, ALICE or a look-alike', async () => {
    await signOut(phone);
    await signOut(laptop);
    await poll(() => members(bob)).toEqual(['bob', 'carol']);
    for (const name of ['alice', 'ALICE', 'alicẹ' /* e with a dot below */, 'ᴀʟɪᴄᴇ' /* small capitals */, 'a1ice']) {
      await rename(bob, name);
      await poll(async () => (await bob.page.textContent('#name-error')) ?? '').toContain(
        `The name "${name}" belongs to someone else.`,
      );
      expect(await you(bob)).toEqual(['bob']);
    }
    await bob.page.press('#name-input', 'Escape');
  });

  it('bob cannot take the name carol renamed herself to, once she is offline', async () => {
    await rename(carol, 'Caz');
    await poll(() => you(carol)).toEqual(['Caz']);
    // On bob's page her rename's line and her row in the member list carry her username beside the new name.
    await poll(() => notices(bob)).toContain('carol is now Caz (@carol)');
    await poll(() => bob.page.$$eval('#members .member-label', (els) => els.map((e) => e.textContent))).toContain('Caz (@carol)');
    await poll(() => members(bob)).toEqual(['bob', 'Caz']);
    await signOut(carol);
    await poll(() => members(bob)).toEqual(['bob']);
    await rename(bob, 'caz');
    await poll(async () => (await bob.page.textContent('#name-error')) ?? '').toContain(
      'The name "caz" belongs to someone else.',
    );
    expect(await you(bob)).toEqual(['bob']);
    // A name nobody holds is his for the asking.
    await rename(bob, 'Robert');
    await poll(() => you(bob)).toEqual(['Robert']);
  });
});

describe('a name that changed hands', () => {
  // Usernames are reserved for their accounts (nobody else can become "bob"), so the name that changes hands is
  // a display name: bob goes by "robert", then renames to "bobby", and carol takes "robert".
  it('after bob renames from robert to bobby and carol takes "robert", carol\'s page does not show bob\'s old message as hers', async () => {
    await rename(bob, 'robert');
    await poll(() => you(bob)).toEqual(['robert']);
    await say(bob, 'Said while I was robert.');
    await poll(() => texts(bob, 'public')).toContain('Said while I was robert.');
    await rename(bob, 'bobby');
    await poll(() => you(bob)).toEqual(['bobby']);
    await signIn(carol, 'carol');
    await joinAsSignedIn(carol);
    await rename(carol, 'robert');
    await poll(() => you(carol)).toEqual(['robert']);
    // Her page loads the room's history again as "robert": the old message keeps its sender's username beside it.
    await carol.page.reload();
    await carol.page.waitForSelector('#conn[data-state="ready"]');
    await poll(() => you(carol)).toEqual(['robert']);
    await poll(() => texts(carol, 'public')).toContain('Said while I was robert.');
    const old = (await messages(carol)).find((m) => m.text === 'Said while I was robert.');
    expect(old?.from).toBe('robert (@bob)');
    expect(await carol.page.$$eval('#log .msg.mine', (els) => els.length)).toBe(0);
    // Her own messages show her username beside the name she took.
    await say(carol, 'Now I am robert.');
    await poll(() => texts(carol, 'public')).toContain('Now I am robert.');
    expect((await messages(carol)).find((m) => m.text === 'Now I am robert.')?.from).toBe('robert (@carol) (you)');
    await poll(async () => (await messages(bob)).find((m) => m.text === 'Now I am robert.')?.from).toBe('robert (@carol)');
    // And on bob's page it is still his.
    const his = (await messages(bob)).find((m) => m.text === 'Said while I was robert.');
    expect(his?.from).toBe('robert (@bob) (you)');
  });
});

describe('text written right to left or with an override', () => {
  it('a message with U+202E turns nothing outside itself: its text takes its own direction and the names beside it are isolated', async () => {
    const tricky = 'see \u202Egnp.exe';
    await say(carol, tricky);
    await poll(() => texts(bob, 'public')).toContain(tricky);
    const isolation = await bob.page.$$eval(
      '#log .msg',
      (els, want) => {
        const m = els.find((e) => e.querySelector('.text')?.textContent === want);
        const text = m?.querySelector('.text');
        const name = m?.querySelector('.from > :first-child');
        return {
          // A <p> is isolated by the browser's own style (HTML's rendering rules); dir="auto" gives it the
          // direction of its first strong character, as a message written right to left needs.
          text: text ? `${getComputedStyle(text).unicodeBidi} dir=${text.getAttribute('dir')}` : 'missing',
          name: name ? `${name.textContent} ${getComputedStyle(name).unicodeBidi}` : 'missing',
        };
      },
      tricky,
    );
    // carol goes by "robert" since the test above.
    expect(isolation).toEqual({ text: 'isolate dir=auto', name: 'robert isolate' });
  });
});

describe("a phone's top bar, signed in", () => {
  it('keeps the status readable, connected and offline, never under "Signed in as", and a time on one line', async () => {
    // Issue 26 #6: at 390 px the status was cut to "Con…", "Retry now" overlapped "Signed in as", and a time
    // wrapped as "18:/32". mod (the local issuer's moderator) on a phone whose reconnect waits long enough to look.
    const p = await open(browser, '?backoff=60000', { viewport: PHONE });
    await signIn(p, 'mod');
    await joinAsSignedIn(p);
    await say(p, 'On the bus');
    await poll(() => texts(p, 'public')).toContain('On the bus');
    const bar = () =>
      p.page.evaluate(() => {
        const box = (s: string) => document.querySelector(s)?.getBoundingClientRect();
        const shown = (r?: DOMRect) => !!r && r.width > 0 && r.height > 0;
        const apart = (a?: DOMRect, b?: DOMRect) =>
          !shown(a) || !shown(b) || a!.right <= b!.left || b!.right <= a!.left || a!.bottom <= b!.top || b!.bottom <= a!.top;
        const text = document.getElementById('conn-text')!;
        const oneLine = (e: Element) => {
          const r = document.createRange();
          r.selectNodeContents(e);
          return r.getClientRects().length === 1;
        };
        const times = [...document.querySelectorAll('#log time')];
        return {
          status: text.textContent,
          cut: text.scrollWidth > text.clientWidth + 1,
          retryApart: ['.account-label', '#sign-out', '#sign-out-everywhere', '#room-label'].every((s) => apart(box('#retry-now'), box(s))),
          statusApart: ['.account-label', '#sign-out', '#sign-out-everywhere'].every((s) => apart(box('#conn'), box(s))),
          timesOnOneLine: times.length > 0 && times.every(oneLine),
          buttonsOnOneLine: [...document.querySelectorAll('.account button, #retry-now')].filter((b) => b.getClientRects().length > 0).every(oneLine),
          scrollsSideways: document.documentElement.scrollWidth > window.innerWidth,
          // Shown when a check fails: what the status said and how wide it was against its room.
          widths: `"${text.textContent}" ${text.scrollWidth}/${text.clientWidth} px in #conn ${box('#conn')?.width} px`,
        };
      });
    const ready = await bar();
    expect(ready, ready.widths).toMatchObject({ cut: false, statusApart: true, timesOnOneLine: true, buttonsOnOneLine: true, scrollsSideways: false });
    await dropAllConnections();
    await p.page.waitForSelector('#conn[data-state="waiting"]');
    await p.page.waitForSelector('#retry-now:visible');
    const offline = await bar();
    // The notice "Connection lost…" has a time of its own, beside two lines of text.
    expect(offline, offline.widths).toMatchObject({ cut: false, retryApart: true, statusApart: true, timesOnOneLine: true, buttonsOnOneLine: true, scrollsSideways: false });
    await p.page.click('#retry-now');
    await p.page.waitForSelector('#conn[data-state="ready"]');
    expect(p.errors).toEqual([]);
    await p.context.close();
  });
});
