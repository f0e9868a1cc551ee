// End to end: the page on a phone and the flow of a day's use, in Debian's
// Chromium against the local stack (scripts/test-e2e.sh, -auth none): the
// member list folded behind "Members (N)", a keyboard-sized window keeping the
// last message and the composer in view, a 32-character name without a space
// wrapping instead of scrolling the log sideways, a burst of joins as one
// line, "N new messages ↓", the box growing with its text, an empty Send, a
// refused rename keeping what was typed, Escape, and private mode.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, launch, members, notices, open, PHONE, poll, say, texts, type Person } from './browser';

const ROOM = 'layout';
const LONG = 'Bartholomew_Featherstonehaugh_XY'; // 32 characters, no space
let browser: Browser;
let ann: Person; // on a phone
let ben: Person; // at a desk

beforeAll(async () => {
  browser = await launch();
  ann = await open(browser, '', { viewport: PHONE });
  ben = await open(browser, '', {}, async (c) => void (await c.addInitScript(keepSockets)));
  await join(ann, 'Ann', ROOM);
  await join(ben, 'Ben', ROOM);
});

afterAll(async () => {
  await browser?.close();
});

/**
 * Runs in the page before its script: keeps its WebSockets in
 * window.sockets, so that a test can hand the page a frame as if the server
 * had sent it (an order of arrival a loaded machine makes, made certain).
 */
function keepSockets(): void {
  const Native = window.WebSocket;
  const kept: WebSocket[] = [];
  (window as unknown as { sockets: WebSocket[] }).sockets = kept;
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      kept.push(this);
    }
  };
}

/** What "N new messages ↓" says, if it is shown: a hidden one keeps its last text. */
async function newBelow(p: Person): Promise<string> {
  return (await p.page.isVisible('#new-below')) ? ((await p.page.textContent('#new-below')) ?? '') : '(hidden)';
}

/** Whether el is inside the window and, when inside, inside the log's visible part too. */
async function inView(p: Person, selector: string): Promise<boolean> {
  return p.page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    const log = document.getElementById('log')!.getBoundingClientRect();
    const inWindow = r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
    const inLog = !e.closest('#log') || (r.top >= log.top - 1 && r.bottom <= log.bottom + 1);
    return inWindow && inLog;
  });
}

describe('on a phone', () => {
  it('the member list folds behind "Members (N)" and opens with one tap', async () => {
    const a = ann.page;
    await poll(() => a.textContent('#members-toggle')).toBe('Members 2');
    expect(await a.getAttribute('#members-toggle', 'aria-expanded')).toBe('false');
    expect(await a.isVisible('#members')).toBe(false);
    const label = await a.$eval('#members-toggle', (e) => getComputedStyle(e.querySelector('.count')!, '::before').content);
    expect(label).toBe('"("'); // shown as "Members (2)"
    await a.click('#members-toggle');
    expect(await a.isVisible('#members')).toBe(true);
    expect(await a.getAttribute('#members-toggle', 'aria-expanded')).toBe('true');
    await a.click('#members-toggle');
    // At a desk it starts open.
    expect(await ben.page.getAttribute('#members-toggle', 'aria-expanded')).toBe('true');
    expect(await ben.page.isVisible('#members')).toBe(true);
  });

  it('the status stays on one line', async () => {
    const h = await ann.page.$eval('#conn', (e) => e.getBoundingClientRect().height);
    expect(h).toBeLessThan(30);
  });

  it('with the keyboard open (390×450) the last message and the composer stay in view', async () => {
    for (let i = 1; i <= 12; i++) await say(ben, `Line ${i} of a long morning`);
    await poll(() => texts(ann, 'public')).toContain('Line 12 of a long morning');
    await ann.page.setViewportSize({ width: 390, height: 450 });
    await ann.page.focus('#message');
    await poll(() => inView(ann, '#log .msg:last-of-type')).toBe(true);
    expect(await inView(ann, '#message')).toBe(true);
    expect(await inView(ann, '#send')).toBe(true);
    await ann.page.setViewportSize(PHONE);
  });

  it('a scroll still to be told when the log shrinks keeps the log at its end', async () => {
    // The keyboard opening in the frame after the last message scrolled the
    // log: the scroll event is handled with the shrunken log, where the old end
    // is out of view. Made deterministic: both happen in one task here.
    await poll(() => inView(ann, '#log .msg:last-of-type')).toBe(true);
    await ann.page.evaluate(() => {
      const log = document.getElementById('log')!;
      log.scrollTop = log.scrollHeight - log.clientHeight - 1; // still at the end; its scroll event comes with the next frame
      log.style.maxHeight = '150px';
    });
    await poll(() => inView(ann, '#log .msg:last-of-type')).toBe(true);
    await ann.page.evaluate(() => document.getElementById('log')!.style.removeProperty('max-height'));
  });

  it('in private mode, "Ben is typing…" is shown whole, not cut', async () => {
    const a = ann.page;
    await a.click('#members-toggle');
    await a.check('#members input[data-name="Ben"]');
    await a.click('#members-toggle');
    await poll(() => a.textContent('#to-text')).toBe('Privately to Ben');
    await ben.page.fill('#message', 'Thinking about lunch');
    await poll(() => a.textContent('#typing')).toBe('Ben is typing…');
    const seen = await a.$eval('#typing', (e) => {
      const r = e.getBoundingClientRect();
      return { whole: e.scrollWidth <= e.clientWidth, inWindow: r.left >= 0 && r.right <= window.innerWidth };
    });
    expect(seen).toEqual({ whole: true, inWindow: true });
    expect(await inView(ann, '#to-clear')).toBe(true);
    await ben.page.fill('#message', '');
    await a.click('#to-clear');
    await poll(() => a.textContent('#to-text')).toBe('To everyone');
  });

  it('a 32-character name without a space wraps: the log never scrolls sideways', async () => {
    const long = await open(browser, '', { viewport: PHONE });
    await join(long, LONG, ROOM);
    await poll(() => notices(ann)).toContain(`${LONG} joined`);
    await say(long, 'Hello from a long name');
    await poll(() => texts(ann, 'public')).toContain('Hello from a long name');
    // While the long name types, Ann's typing line holds it too.
    await long.page.fill('#message', 'and more');
    await poll(() => ann.page.textContent('#typing')).toBe(`${LONG} is typing…`);
    for (const p of [ann, long]) {
      const [sw, cw] = await p.page.$eval('#log', (e) => [e.scrollWidth, e.clientWidth]);
      expect(sw).toBeLessThanOrEqual(cw);
      // What sticks out, if anything: named in the failure (under load it happened once, cause not found).
      const wider = await p.page.evaluate(() => {
        if (document.documentElement.scrollWidth <= window.innerWidth) return [];
        const out = [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${(e.textContent ?? '').slice(0, 40)}`);
        return out.length > 0 ? out : [`the document is ${document.documentElement.scrollWidth} px wide`];
      });
      expect(wider).toEqual([]);
    }
    await long.page.fill('#message', '');
    await long.context.close();
  });
});

describe('the join form', () => {
  it('keeps what was typed before the page was ready, and where the cursor was', async () => {
    // On a slow network the form is on screen before the page's script has
    // its config: the script's prefill used to overwrite the typed name with
    // '' and the room with "lobby", and move the cursor to the name field, so
    // the rest of the typing went into the name (a loaded CI machine joined
    // a test's page to "lobby" named "layout").
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    const early = await open(browser, '', {}, async (c) => {
      await c.route('**/config.json', async (route) => {
        await held;
        await route.continue();
      });
    });
    await early.page.fill('#join-name', 'Early');
    await early.page.fill('#join-room', 'early-room');
    const configured = early.page.waitForResponse('**/config.json');
    release();
    await configured;
    await early.page.waitForSelector('#join-form[data-ready]', { state: 'attached' });
    expect(await early.page.inputValue('#join-name')).toBe('Early');
    expect(await early.page.inputValue('#join-room')).toBe('early-room');
    expect(await early.page.evaluate(() => document.activeElement?.id)).toBe('join-room');
    await early.page.press('#join-room', 'Enter');
    await early.page.waitForSelector('#conn[data-state="ready"]');
    const url = new URL(early.sockets[0].url);
    expect([url.searchParams.get('name'), url.searchParams.get('room')]).toEqual(['Early', 'early-room']);
    await early.context.close();
  });
});

describe('links', () => {
  it('a URL in a message opens in a new tab that knows nothing of the chat, and nothing else is interpreted', async () => {
    await ann.context.route('https://example.test/**', (route) =>
      route.fulfill({ contentType: 'text/html', body: '<title>guide</title><p>guide</p>' }),
    );
    const text = 'Docs at https://example.test/guide?x=1. Not <b>bold</b>, not [md](https://evil.test) javascript:alert(1)';
    await say(ben, text);
    await poll(() => texts(ann, 'public')).toContain(text);
    const links = await ann.page.$$eval('#log .msg .text a', (as) =>
      as.map((a) => [a.textContent, a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]),
    );
    expect(links.slice(-2)).toEqual([
      ['https://example.test/guide?x=1', 'https://example.test/guide?x=1', '_blank', 'noopener noreferrer'],
      ['https://evil.test', 'https://evil.test/', '_blank', 'noopener noreferrer'],
    ]);
    expect(await ann.page.$$eval('#log .msg .text b', (b) => b.length)).toBe(0);
    const [tab] = await Promise.all([
      ann.context.waitForEvent('page'),
      ann.page.locator('#log .msg .text a[href="https://example.test/guide?x=1"]').last().click(),
    ]);
    await tab.waitForLoadState();
    expect(await tab.evaluate(() => [window.opener === null, document.referrer, location.href])).toEqual([
      true,
      '',
      'https://example.test/guide?x=1',
    ]);
    await tab.close();
    expect(ann.page.url()).not.toContain('example.test'); // the chat stays where it was
  });

  it('a URL with a bidirectional override is no link, and a link is isolated from an override around it', async () => {
    // "https://evil.test/\u202Egnp.exe" shows as "https://evil.test/exe.png".
    const text = 'Photo https://evil.test/\u202Egnp.exe and \u202E https://example.test/moc.knab \u202C done';
    await say(ben, text);
    await poll(() => texts(ann, 'public')).toContain(text);
    const last = ann.page.locator('#log .msg.public .text').last();
    expect(await last.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), getComputedStyle(a).unicodeBidi]))).toEqual([
      ['https://example.test/moc.knab', 'isolate'],
    ]);
  });
});

describe('the flow of a day', () => {
  it('a burst of joins is one line', async () => {
    // However far apart the joins arrive (a loaded machine spread four over
    // 1.4 s, past the page's 1 s quiet window), they are one burst to a page
    // whose clock did not move meanwhile: Gil's clock is held still from
    // before the first join until every join is on his member list, then runs.
    const crowdNames = ['Cy', 'Di', 'Ed', 'Flo'];
    const gil = await open(browser, '', {}, (c) => c.clock.install());
    await join(gil, 'Gil', ROOM);
    await gil.page.clock.pauseAt(new Date(await gil.page.evaluate(() => Date.now() + 100)));
    const before = (await notices(gil)).length;
    const crowd = await Promise.all(crowdNames.map(() => open(browser)));
    await Promise.all(crowd.map((p, i) => join(p, crowdNames[i], ROOM)));
    await poll(async () => {
      const shown = await members(gil);
      return crowdNames.filter((n) => !shown.includes(n));
    }).toEqual([]);
    expect((await notices(gil)).slice(before)).toEqual([]); // the burst is still open
    await gil.page.clock.resume();
    await poll(async () => (await notices(gil)).slice(before).filter((n) => /joined/.test(n))).toHaveLength(1);
    const lines = (await notices(gil)).slice(before).filter((n) => /joined/.test(n));
    expect(lines[0]).toMatch(/^(\w+), (\w+) and 2 others joined$/);
    // No second line comes later: a message sent after the joins arrives, and still one line.
    await say(ben, 'Welcome, all');
    await poll(() => texts(gil, 'public')).toContain('Welcome, all');
    expect((await notices(gil)).slice(before).filter((n) => /joined/.test(n))).toEqual(lines);
    await Promise.all([...crowd, gil].map((p) => p.context.close()));
  });

  it('scrolled up, a message stored before one shown, arriving after it, is counted too', async () => {
    // Two messages sent at once are stored concurrently: the second may be
    // stored first, and reach ben first. The first then goes above it, by its
    // time, still below what ben reads: new, and counted (it was not: a loaded
    // run showed "1 new message" for Ann's two).
    const b = ben.page;
    await poll(() =>
      b.$eval('#log', async (e) => {
        e.scrollTop = 0;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        return e.scrollTop;
      }),
    ).toBe(0);
    await b.evaluate((room) => {
      const last = [...document.querySelectorAll<HTMLElement>('#log .msg[data-ts]')].at(-1)!;
      const ts = Number(last.dataset.ts) + 1;
      // A ULID of that time: 10 characters of time, 16 of randomness (Crockford's base 32).
      const b32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
      const ulid = (t: number, tail: string) => {
        let s = '';
        for (let i = 0; i < 10; i++, t = Math.floor(t / 32)) s = b32[t % 32] + s;
        return s + tail;
      };
      const socket = (window as unknown as { sockets: WebSocket[] }).sockets.at(-1)!;
      const arrive = (t: number, message: string) =>
        socket.dispatchEvent(new MessageEvent('message', {
          data: JSON.stringify({ type: 'public', id: ulid(t, '0000000000000000'), ts: t, room, from: 'Ann', message }),
        }));
      arrive(ts + 1, 'Stored first, sent second');
      arrive(ts, 'Sent first, stored second');
    }, ROOM);
    await poll(() => texts(ben, 'public')).toContain('Sent first, stored second');
    const shown = await texts(ben, 'public');
    expect(shown.slice(-2)).toEqual(['Sent first, stored second', 'Stored first, sent second']);
    await poll(() => newBelow(ben)).toBe('2 new messages ↓');
    await b.click('#new-below');
    expect(await inView(ben, '#log .msg:last-of-type')).toBe(true);
  });

  it('scrolled up, new messages are counted in "N new messages ↓", which scrolls down', async () => {
    const b = ben.page;
    // Scrolled up, and still up two frames later: a resize the page had not yet seen (the box shrinking after
    // ben's last send) keeps a log that was at its end there, and on a loaded machine it came after the scroll.
    await poll(() =>
      b.$eval('#log', async (e) => {
        e.scrollTop = 0;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        return e.scrollTop;
      }),
    ).toBe(0);
    await say(ann, 'Are you there?');
    await say(ann, 'Lunch?');
    await poll(() => newBelow(ben)).toBe('2 new messages ↓');
    expect(await b.isVisible('#new-below')).toBe(true);
    await b.click('#new-below');
    expect(await b.isVisible('#new-below')).toBe(false);
    expect(await inView(ben, '#log .msg:last-of-type')).toBe(true);
  });

  it('"Ann is typing…" shows while she types and goes when her message arrives', async () => {
    await ann.page.fill('#message', 'Typing a long thought');
    await poll(() => ben.page.textContent('#typing')).toBe('Ann is typing…');
    expect(await ann.page.textContent('#typing')).toBe(''); // never her own
    await ann.page.press('#message', 'Enter');
    await poll(() => texts(ben, 'public')).toContain('Typing a long thought');
    expect(await ben.page.textContent('#typing')).toBe('');
  });

  it('the message box grows with its text, up to a bound', async () => {
    const b = ben.page;
    const h0 = await b.$eval('#message', (e) => e.getBoundingClientRect().height);
    await b.fill('#message', 'one\ntwo\nthree\nfour\nfive');
    const h5 = await b.$eval('#message', (e) => e.getBoundingClientRect().height);
    await b.fill('#message', Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n'));
    const h60 = await b.$eval('#message', (e) => e.getBoundingClientRect().height);
    expect(h5).toBeGreaterThan(h0 + 40);
    expect(h60).toBeGreaterThan(h5);
    expect(h60).toBeLessThanOrEqual(12 * 16 + 1); // max-height 12rem, then it scrolls
    await b.fill('#message', '');
  });

  it('Send on an empty box says why nothing was sent', async () => {
    const b = ben.page;
    await b.click('#send');
    expect(await b.textContent('#send-error')).toMatch(/type a message/);
    await b.fill('#message', 'x');
    expect(await b.textContent('#send-error')).toBe('');
    await b.fill('#message', '');
  });

  it('a refused rename keeps the box open with the typed name; Escape goes back to Change name', async () => {
    const b = ben.page;
    await b.click('#name-edit');
    await b.fill('#name-input', 'ann');
    await b.press('#name-input', 'Enter');
    await poll(() => b.textContent('#name-error')).toMatch(/taken/);
    expect(await b.isVisible('#name-input')).toBe(true);
    expect(await b.inputValue('#name-input')).toBe('ann');
    await b.press('#name-input', 'Escape');
    expect(await b.isVisible('#name-input')).toBe(false);
    expect(await b.evaluate(() => document.activeElement?.id)).toBe('name-edit');
  });

  it('private mode is unmistakable and one click goes back to everyone', async () => {
    const b = ben.page;
    await b.check('#members input[data-name="Ann"]');
    expect(await b.innerText('#send')).toBe('Send privately');
    expect(await b.isVisible('#to-clear')).toBe(true);
    await say(ben, 'Just between us');
    await poll(() => texts(ann, 'private')).toContain('Just between us');
    // Still private after sending (a conversation), and still saying so.
    expect(await b.textContent('#to-text')).toBe('Privately to Ann');
    await b.click('#to-clear');
    expect(await b.innerText('#send')).toBe('Send');
    expect(await b.textContent('#to-text')).toBe('To everyone');
    for (const p of [ann, ben]) expect(p.errors).toEqual([]);
  });
});
