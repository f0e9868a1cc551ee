// Mentions that notify (issue 26 #3): a message mentions you only when the
// server marked it so; `@` completes from the member list; while the tab is
// hidden its title counts what arrived, a mention or a private message asks
// for a notification, and coming back puts the divider above the first.
import { describe, expect, it } from 'vitest';
import { Away } from '../src/attention';
import { completeMention, MENTION_CHOICES, mentionChoices, mentionQuery, mentionsMe } from '../src/mentions';
import type { PrivateFrame, PublicFrame } from '../src/protocol';

const pub = (id: string, from: string, message: string, mentions?: PublicFrame['mentions'], account?: string): PublicFrame => ({
  type: 'public', id, ts: 1, room: 'lobby', from, message,
  ...(mentions ? { mentions } : {}),
  ...(account ? { account } : {}),
});
const priv = (id: string, from: string): PrivateFrame => ({ type: 'private', id, ts: 1, room: 'lobby', from, to: ['Bob'], message: 'psst' });

describe('mentionsMe', () => {
  it('follows the server’s mark, never the text', () => {
    const bob = { name: 'Bob' };
    expect(mentionsMe(pub('1', 'Alice', 'hi @Bob', [{ name: 'Bob' }]), bob)).toBe(true);
    expect(mentionsMe(pub('2', 'Alice', 'hi @Bob'), bob)).toBe(false);
    expect(mentionsMe(pub('3', 'Alice', 'hi', [{ name: 'BOB' }]), bob)).toBe(true);
  });

  it('with sign-in goes by account: a name that changed hands mentions its holder then, not you', () => {
    const me = { name: 'bob', account: 'acct-bob' };
    expect(mentionsMe(pub('1', 'alice', '@bob', [{ name: 'bob', account: 'acct-bob' }]), me)).toBe(true);
    expect(mentionsMe(pub('2', 'alice', '@bob', [{ name: 'bob', account: 'acct-mallory' }]), me)).toBe(false);
    expect(mentionsMe(pub('3', 'alice', '@bob', [{ name: 'bob' }]), me)).toBe(false);
  });

  it('a removed message mentions nobody', () => {
    const f = { ...pub('1', 'Alice', '', [{ name: 'Bob' }]), removed: { by: 'sender', at: 2 } };
    expect(mentionsMe(f, { name: 'Bob' })).toBe(false);
  });
});

describe('the @ being typed', () => {
  it('is found at the start or after a space, up to the caret, across a space in a name', () => {
    expect(mentionQuery('@Bo', 3, 32)).toEqual({ start: 0, query: 'Bo' });
    expect(mentionQuery('hi @Mary A', 10, 32)).toEqual({ start: 3, query: 'Mary A' });
    expect(mentionQuery('mail a@b', 8, 32)).toBeNull();
    expect(mentionQuery('@Bob\nhi', 7, 32)).toBeNull();
    expect(mentionQuery(`@${'x'.repeat(40)}`, 41, 32)).toBeNull();
  });

  it('offers the members whose names start with it, you left out, at most a few', () => {
    const names = ['Alice', 'alex', 'Bob', 'Ａｌｉ', ...Array.from({ length: 20 }, (_, i) => `al${i}`)];
    expect(mentionChoices(['Alice', 'alex', 'Bob'], 'AL', 'alex')).toEqual(['Alice']);
    expect(mentionChoices(names, 'ali', 'Bob')).toEqual(['Alice', 'Ａｌｉ']);
    expect(mentionChoices(names, 'al', 'Bob')).toHaveLength(MENTION_CHOICES);
  });

  it('is replaced by the chosen name and a space, the caret after it', () => {
    const text = 'hi @mar how';
    const q = mentionQuery(text, 7, 32);
    expect(q).not.toBeNull();
    expect(completeMention(text, 7, q!, 'Mary Ann')).toEqual({ text: 'hi @Mary Ann how', caret: 13 });
  });
});

describe('Away', () => {
  const me = { name: 'Bob' };

  it('counts in the title what arrived while hidden, and puts the divider above the first on return', () => {
    const a = new Away('GroupChat');
    expect(a.arrived(pub('1', 'Alice', 'one'), me)).toEqual({ title: '(1) GroupChat', notify: null });
    expect(a.arrived(pub('2', 'Carol', 'two'), me)?.title).toBe('(2) GroupChat');
    expect(a.arrived(pub('3', 'Bob', 'mine'), me)).toBeNull();
    expect(a.back()).toEqual({ dividerAbove: '1', title: 'GroupChat' });
    expect(a.back()).toEqual({ dividerAbove: null, title: 'GroupChat' });
    expect(a.arrived(pub('4', 'Alice', 'again'), me)?.title).toBe('(1) GroupChat');
    expect(a.back().dividerAbove).toBe('4');
  });

  it('a message delivered twice (a fan-out shard retried) is counted and notified once', () => {
    const a = new Away('GroupChat');
    expect(a.arrived(pub('1', 'Alice', 'hi @Bob', [{ name: 'Bob' }]), me)?.notify).toBe('Alice mentioned you');
    expect(a.arrived(pub('1', 'Alice', 'hi @Bob', [{ name: 'Bob' }]), me)).toBeNull();
    expect(a.title()).toBe('(1) GroupChat');
  });

  it('asks for a notification for a mention of you or a private message, not for the rest', () => {
    const a = new Away('GroupChat');
    expect(a.arrived(pub('1', 'Alice', 'hi @Bob', [{ name: 'Bob' }]), me)?.notify).toBe('Alice mentioned you');
    expect(a.arrived(pub('2', 'Alice', 'hi @Bob'), me)?.notify).toBeNull();
    expect(a.arrived(priv('3', 'Carol'), me)?.notify).toBe('Private message from Carol');
  });

  it('an edit that adds a mention of you notifies once; one that keeps it, or mentions someone else, does not, nor counts in the title', () => {
    const a = new Away('GroupChat');
    const plain = pub('5', 'Alice', 'lunch at noon');
    const marked = [{ name: 'Bob' }];
    expect(a.edited(plain, { id: '5', message: '@Bob lunch at noon?', mentions: marked }, me)).toBe('Alice mentioned you');
    expect(a.edited(pub('5', 'Alice', '@Bob lunch at noon?', marked), { id: '5', message: '@Bob lunch at 1?', mentions: marked }, me)).toBeNull();
    expect(a.edited(plain, { id: '5', message: '@Carol lunch?', mentions: [{ name: 'Carol' }] }, me)).toBeNull();
    expect(a.edited(plain, { id: '5', message: '@Bob (faked)' }, me)).toBeNull(); // the server's marks, never the text
    expect(a.edited(pub('6', 'Bob', 'note to self'), { id: '6', message: '@Bob note', mentions: marked }, me)).toBeNull();
    expect(a.edited(undefined, { id: '7', message: '@Bob', mentions: marked }, me)).toBeNull(); // a message never shown
    expect(a.title()).toBe('GroupChat');
  });
});
