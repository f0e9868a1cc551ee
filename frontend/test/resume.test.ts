// Staying in the room across a reload: what this tab keeps (resume.ts), and
// that the first connection after a reload presents the kept token.
import { describe, expect, it } from 'vitest';
import { forgetResumable, loadResumable, RESUME_KEY, saveResumable } from '../src/resume';
import { Session } from '../src/session';
import { FakeWire, state } from './fakes';
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

  it('without one, connects as before, with no resume parameter', () => {
    const session = new Session('Alice', 'lobby', new FakeWire());
    expect(new URL(session.url(BASE)).searchParams.has('resume')).toBe(false);
  });
});
