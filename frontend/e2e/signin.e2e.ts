// End to end with sign-in: scripts/test-e2e.sh runs this file against a local
// stack started with -auth cognito, whose local issuer (cognito-local) has the
// test accounts alice, bob and carol, and whose gateway calls the $connect
// authorizer as API Gateway does. People sign in through the page's real form
// (Amplify, the password flow the local issuer supports), chat publicly and
// privately, and sign out; tokens about to expire are renewed before a
// reconnect; a session that cannot be renewed, or a token the server refuses,
// brings back the sign-in form instead of a reconnect loop.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE,
  dropAllConnections,
  launch,
  members,
  notices,
  open,
  PASSWORDS,
  poll,
  readyAgain,
  ROOM,
  say,
  signIn,
  texts,
  tokenOf,
  you,
  type Person,
} from './browser';

let browser: Browser;
const people: Record<'alice' | 'bob' | 'carol', Person> = {} as never;
const all = (): Person[] => [people.alice, people.bob, people.carol];

beforeAll(async () => {
  browser = await launch();
  for (const name of ['alice', 'bob', 'carol'] as const) people[name] = await open(browser);
});

afterAll(async () => {
  await browser?.close();
});

/** Joins the room with the name the join form was given after signing in (the username). */
async function joinAsSignedIn(p: Person, room = ROOM): Promise<void> {
  await p.page.fill('#join-room', room);
  await p.page.press('#join-room', 'Enter');
  await p.page.waitForSelector('#conn[data-state="ready"]');
}

/** Rewrites claims of the ID token Amplify stored (its signature no longer matches). */
async function tamperStoredIdToken(page: Page, claims: Record<string, unknown>): Promise<string> {
  return page.evaluate((claims) => {
    const key = Object.keys(localStorage).find((k) => k.startsWith('CognitoIdentityServiceProvider.') && k.endsWith('.idToken'));
    if (!key) throw new Error('no stored ID token');
    const [h, p, s] = (localStorage.getItem(key) ?? '').split('.');
    const payload = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/')));
    Object.assign(payload, claims);
    const b64 = btoa(JSON.stringify(payload)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    const token = `${h}.${b64}.${s}`;
    localStorage.setItem(key, token);
    return token;
  }, claims);
}

describe('signing in', () => {
  it('the page asks everyone to sign in before anything else', async () => {
    for (const p of all()) {
      await p.page.waitForSelector('#signin-form:visible');
      expect(await p.page.isVisible('#join-form')).toBe(false);
      expect(await p.page.isVisible('#account')).toBe(false);
    }
  });

  it('a wrong password is refused on the form', async () => {
    const a = people.alice.page;
    await a.fill('#signin-username', 'alice');
    await a.fill('#signin-password', 'not-the-password');
    await a.click('#signin-submit');
    await poll(async () => (await a.textContent('#signin-error')) ?? '').toBe('Incorrect username or password.');
    expect(await a.isVisible('#join-form')).toBe(false);
  });

  it('alice, bob and carol sign in, join with their usernames and see each other', async () => {
    for (const [name, p] of Object.entries(people)) {
      await signIn(p, name);
      expect(await p.page.textContent('#account-name')).toBe(name);
      expect(await p.page.inputValue('#join-name')).toBe(name);
      expect(await p.page.inputValue('#signin-password')).toBe(''); // nothing of the password is kept
      await joinAsSignedIn(p);
    }
    for (const p of all()) await poll(() => members(p)).toEqual(['alice', 'bob', 'carol']);
    expect(await you(people.bob)).toEqual(['bob']);
    // Every socket carried an ID token of the local issuer in its token parameter.
    for (const p of all()) {
      expect(p.sockets).toHaveLength(1);
      expect(tokenOf(p.sockets[0].url)).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    }
    // Nothing of the password is in the page's storage.
    const stored = await people.alice.page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(stored).not.toContain('alice-local-Passw0rd');
  });

  it('public messages reach all three; a private one only its two', async () => {
    const want = ['Signed in and here.', 'Me too.', 'And me.'];
    for (const [i, p] of all().entries()) {
      await say(p, want[i]);
      for (const q of all()) await poll(() => texts(q, 'public')).toContain(want[i]);
    }
    const a = people.alice.page;
    await a.check('#members input[data-name="bob"]');
    await say(people.alice, 'bob, a word in private.');
    await a.click('#to-clear');
    for (const p of [people.alice, people.bob]) await poll(() => texts(p, 'private')).toEqual(['bob, a word in private.']);
    await say(people.bob, 'Public again.');
    await poll(() => texts(people.carol, 'public')).toContain('Public again.');
    expect(await texts(people.carol, 'private')).toEqual([]);
    expect(await people.carol.page.textContent('#log')).not.toContain('a word in private');
  });

  it('a stored session signs a reloaded page in without the form, back in its room (resume.ts)', async () => {
    const b = people.bob;
    await b.page.reload();
    await b.page.waitForSelector('#conn[data-state="ready"]');
    expect(await b.page.isVisible('#signin-form')).toBe(false);
    expect(await b.page.isVisible('#join-form')).toBe(false);
    expect(await b.page.textContent('#account-name')).toBe('bob');
    await poll(() => members(b)).toEqual(['alice', 'bob', 'carol']);
    // Bob's private conversation comes back with his account.
    await poll(() => texts(b, 'private')).toEqual(['bob, a word in private.']);
  });
});

describe('tokens across reconnects', () => {
  it('a token about to expire is renewed from the issuer before the reconnect, never sent', async () => {
    const a = people.alice;
    // The stored token says it expires in a minute: the page must renew it
    // before it reconnects (and this one, altered, would be refused anyway).
    const stale = await tamperStoredIdToken(a.page, { exp: Math.floor(Date.now() / 1000) + 60 });
    const before = new Map(all().map((p) => [p, p.sockets.length]));
    await dropAllConnections();
    for (const p of all()) await readyAgain(p, before.get(p)!);
    const since = a.sockets.slice(before.get(a));
    expect(since.length).toBe(1); // no refused attempt in between
    expect(tokenOf(since[0].url)).not.toBe(stale);
    expect(tokenOf(since[0].url)).not.toBe(tokenOf(a.sockets[0].url));
    // Every reconnect carried a token, and chat goes on.
    for (const p of all()) expect(tokenOf(p.sockets.at(-1)!.url)).toBeTruthy();
    await say(a, 'Still here after the renewal.');
    for (const p of all()) await poll(() => texts(p, 'public')).toContain('Still here after the renewal.');
  });

  it('a stored token the server refuses is replaced by a renewed one on the next attempt', async () => {
    const b = people.bob;
    const bad = await tamperStoredIdToken(b.page, { 'cognito:username': 'mallory' });
    const before = new Map(all().map((p) => [p, p.sockets.length]));
    await dropAllConnections();
    await readyAgain(b, before.get(b)!);
    const since = b.sockets.slice(before.get(b));
    expect(since.map((s) => tokenOf(s.url) === bad)).toEqual([true, false]);
    expect(await b.page.textContent('#account-name')).toBe('bob');
    for (const p of all()) await readyAgain(p, before.get(p)!);
  });
});

describe('leaving', () => {
  it('signing out closes the connection and shows the sign-in form', async () => {
    const c = people.carol;
    await c.page.click('#sign-out');
    await c.page.waitForSelector('#signin-form:visible');
    await poll(async () => c.sockets.every((s) => s.closed)).toBe(true);
    expect(await c.page.isVisible('#chat')).toBe(false);
    expect(await c.page.isVisible('#account')).toBe(false);
    expect(await c.page.inputValue('#signin-username')).toBe('carol');
    for (const p of [people.alice, people.bob]) {
      await poll(() => members(p)).toEqual(['alice', 'bob']);
      // Her leave is a notice of its own, or one name of a burst of leaves ("bob and carol left": the reconnects of
      // the case before may still be telling theirs); on failure, the notices shown.
      await poll(async () => {
        const ns = await notices(p);
        return ns.some((n) => n.endsWith(' left') && n.slice(0, -' left'.length).split(/, | and /).includes('carol'))
          ? 'carol left'
          : ns.join(' | ');
      }).toBe('carol left');
    }
    // Signed out for good: a reload asks to sign in again.
    await c.page.reload();
    await c.page.waitForSelector('#signin-form:visible');
  });

  it('signing out everywhere closes every device of the account, and none comes back with the token it held', async () => {
    const phone = await open(browser);
    const laptop = await open(browser);
    try {
      for (const d of [phone, laptop]) {
        await signIn(d, 'carol');
        await joinAsSignedIn(d);
      }
      await poll(() => members(people.alice)).toEqual(['alice', 'bob', 'carol']);
      const phoneFirst = phone.sockets.length - 1;
      await laptop.page.click('#sign-out-everywhere');
      await laptop.page.waitForSelector('#signin-form:visible');
      // The server closes the phone's connection too, and refuses its
      // reconnect with the ID token it held (issued before the sign-out).
      await poll(async () => phone.sockets.length > phoneFirst + 1 && phone.sockets[phoneFirst + 1].closed).toBe(true);
      const [held, again] = phone.sockets.slice(phoneFirst, phoneFirst + 2);
      expect(held.closed).toBe(true);
      expect(tokenOf(again.url)).toBe(tokenOf(held.url));
      // The local issuer has no GlobalSignOut (cognito-local answers it
      // "unsupported"): the phone's refresh token still renews, so it signs in
      // again with a new token, which is let in. On AWS the refresh token is
      // revoked and the phone goes back to the sign-in form (docs/auth.md).
      await phone.page.waitForSelector('#conn[data-state="ready"]', { timeout: 30_000 });
      expect(tokenOf(phone.sockets.at(-1)!.url)).not.toBe(tokenOf(held.url));
    } finally {
      await phone.context.close();
      await laptop.context.close();
    }
  });

  it('a session that can no longer be renewed brings back the sign-in form, saying so', async () => {
    const b = people.bob;
    // The stored token has expired and the refresh token is not one the issuer knows.
    await b.page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.endsWith('.refreshToken'));
      if (!key) throw new Error('no stored refresh token');
      localStorage.setItem(key, 'revoked-refresh-token');
    });
    await tamperStoredIdToken(b.page, { exp: Math.floor(Date.now() / 1000) - 60 });
    const before = b.sockets.length;
    await b.context.clock.install(); // the page's timers from here on run when the test says
    await dropAllConnections();
    await b.page.waitForSelector('#signin-form:visible', { timeout: 20_000 });
    expect(await b.page.textContent('#signin-notice')).toBe('Your session has ended. Sign in again.');
    expect(await b.page.getAttribute('#conn', 'data-state')).toBe('stopped');
    // A minute of the page's time, every timer in it run (a reconnect's backoff is at most 10 s): not one reconnect without a session.
    await b.page.clock.runFor(60_000);
    expect(await b.page.getAttribute('#conn', 'data-state')).toBe('stopped');
    expect(b.sockets.length).toBe(before);
    await poll(() => members(people.alice)).toEqual(['alice']);
    // Signing in again works, and chat goes on.
    await signIn(b, 'bob');
    await joinAsSignedIn(b);
    await poll(() => members(people.alice)).toEqual(['alice', 'bob']);
  });
});

describe('a tampered token', () => {
  it('is refused at the handshake, and the page goes back to sign-in rather than retry forever', async () => {
    const m = await open(browser);
    try {
      await m.context.clock.install(); // the page's timers run when the test says, from the load below on
      // Every socket this page opens carries its token with the signature altered.
      await m.page.addInitScript(() => {
        const Real = window.WebSocket;
        window.WebSocket = class extends Real {
          constructor(url: string | URL, protocols?: string | string[]) {
            const u = new URL(url);
            const t = u.searchParams.get('token');
            if (t) u.searchParams.set('token', t.slice(0, -6) + (t.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
            super(u, protocols);
          }
        } as typeof WebSocket;
      });
      await m.page.goto(`${BASE}/`);
      await signIn(m, 'carol');
      await m.page.fill('#join-room', ROOM);
      await m.page.press('#join-room', 'Enter');
      await m.page.waitForSelector('#signin-form:visible', { timeout: 30_000 });
      expect(await m.page.textContent('#signin-notice')).toBe('The chat server did not accept your sign-in. Sign in again.');
      expect(await m.page.getAttribute('#conn', 'data-state')).toBe('stopped');
      const tries = m.sockets.length;
      expect(tries).toBe(3); // the stored token, then two renewed ones
      expect(m.sockets.every((s) => s.closed)).toBe(true);
      // A minute of the page's time, every timer in it run (a reconnect's backoff is at most 10 s): no fourth try.
      await m.page.clock.runFor(60_000);
      expect(await m.page.getAttribute('#conn', 'data-state')).toBe('stopped');
      expect(m.sockets.length).toBe(tries);
      // Nobody by that token got in.
      expect(await members(people.alice)).toEqual(['alice', 'bob']);
      expect(m.errors).toEqual([]);
    } finally {
      await m.context.close();
    }
  });
});

describe('a message queued when the server refuses the session', () => {
  it('is not dropped: once bob signs in again he is back in his room and alice gets it', async () => {
    const b = people.bob;
    // From now on the server refuses every handshake of bob's page (its
    // tokens' signature altered), as a restarted stack did.
    await b.page.evaluate(() => {
      const Real = window.WebSocket;
      (window as unknown as { realWebSocket: typeof WebSocket }).realWebSocket = Real;
      window.WebSocket = class extends Real {
        constructor(url: string | URL, protocols?: string | string[]) {
          const u = new URL(url);
          const t = u.searchParams.get('token');
          if (t) u.searchParams.set('token', t.slice(0, -6) + (t.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
          super(u, protocols);
        }
      } as typeof WebSocket;
    });
    await dropAllConnections();
    await b.page.waitForSelector('#conn:not([data-state="ready"])');
    await say(b, 'sent while refused');
    await b.page.waitForSelector('#signin-form:visible', { timeout: 60_000 });
    await b.page.evaluate(() => {
      window.WebSocket = (window as unknown as { realWebSocket: typeof WebSocket }).realWebSocket;
    });
    await b.page.fill('#signin-username', 'bob');
    await b.page.fill('#signin-password', PASSWORDS.bob);
    await b.page.click('#signin-submit');
    await b.page.waitForSelector('#conn[data-state="ready"]', { timeout: 30_000 });
    await poll(() => texts(people.alice)).toContain('sent while refused');
    await poll(() => texts(b)).toContain('sent while refused');
  });
});

describe('the whole conversation', () => {
  it('raised no script errors and no dialogs', () => {
    for (const p of all()) {
      expect(p.errors).toEqual([]);
      expect(p.dialogs).toEqual([]);
    }
  });
});
