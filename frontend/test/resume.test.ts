// Staying in the room across a reload: what this tab keeps (resume.ts), and
// that the first connection after a reload presents the kept token.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatClient } from '../src/client';
import { forgetResumable, loadResumable, RESUME_KEY, saveResumable } from '../src/resume';
import { Session } from '../src/session';
import { FakeSocket, FakeWire, state } from './fakes';
import type { StateFrame } from '../src/protocol';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string): string | null {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.items.set(k, v);
  }
  removeItem(k: string): void {
    this.items.delete(k);
  }
}

const BASE = 'ws://127.0.0.1:8080/local';

describe('what a tab keeps for a reload', () => {
  it('comes back as saved, and not after leaving', () => {
    const s = new MemoryStorage();
    expect(loadResumable(s)).toBeNull();
    saveResumable(s, { room: 'lobby', name: 'Alice', resume: 'tok' });
    expect(loadResumable(s)).toEqual({ room: 'lobby', name: 'Alice', resume: 'tok' });
    forgetResumable(s);
    expect(loadResumable(s)).toBeNull();
  });

  it("with sign-in, is only another visit of the same account's", () => {
    const s = new MemoryStorage();
    saveResumable(s, { room: 'lobby', name: 'alice', resume: 'tok', account: 'alice' });
    expect(loadResumable(s, 'alice')?.resume).toBe('tok');
    expect(loadResumable(s, 'carol')).toBeNull();
    expect(loadResumable(s)).toBeNull(); // nor a page without sign-in
  });

  it('ignores what is not its own: garbage, no room, storage that throws', () => {
    const s = new MemoryStorage();
    s.setItem(RESUME_KEY, '{nope');
    expect(loadResumable(s)).toBeNull();
    s.setItem(RESUME_KEY, JSON.stringify({ name: 'A' }));
    expect(loadResumable(s)).toBeNull();
    const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('full'); }, removeItem: () => {} };
    expect(loadResumable(broken)).toBeNull();
    expect(() => saveResumable(broken, { room: 'r', name: 'n', resume: null })).not.toThrow();
    expect(loadResumable(null)).toBeNull();
  });
});

describe('a session started from a reload', () => {
  it('presents the kept token on its first connect, then the one the server holds', () => {
    const session = new Session('Alice', 'lobby', new FakeWire(), 'kept-token');
    expect(new URL(session.url(BASE)).searchParams.get('resume')).toBe('kept-token');
    session.onState(state('Alice', { resume: 'kept-token' }) as StateFrame);
    expect(session.resumable).toEqual({ name: 'Alice', room: 'lobby', resume: 'kept-token' });
  });

  it('without one, presents a token it made, kept for the next reload', () => {
    const session = new Session('Alice', 'lobby', new FakeWire());
    const made = new URL(session.url(BASE)).searchParams.get('resume');
    expect(made).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(session.resumable.resume).toBe(made);
  });
});

describe('a first connect', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function start(): FakeSocket[] {
    const sockets: FakeSocket[] = [];
    new ChatClient({
      url: BASE,
      name: 'Alice',
      room: 'lobby',
      socket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
    }).start();
    return sockets;
  }
  const token = (s: FakeSocket) => new URL(s.url).searchParams.get('resume');

  // The first $connect took the name and died (a Lambda timeout) before the
  // page got a state: the name is held under the page's token, and the next
  // connect, presenting it, gets the name back instead of being a guest.
  it('that failed is retried with the token the page made for it', () => {
    const sockets = start();
    const made = token(sockets[0]);
    expect(made).toMatch(/^[A-Za-z0-9_-]{22}$/);
    sockets[0].serverClose(1006, '');
    vi.runOnlyPendingTimers();
    expect(sockets).toHaveLength(2);
    expect(token(sockets[1])).toBe(made);
    expect(new URL(sockets[1].url).searchParams.get('name')).toBe('Alice');
  });

  it('presents a token of its own on every page', () => {
    expect(token(start()[0])).not.toBe(token(start()[0]));
  });
});
