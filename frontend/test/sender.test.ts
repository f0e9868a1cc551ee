// Whose message is it: with sign-in the account says, not the name, which
// changes hands (issue 22: after bob renames to bobby and mallory takes "bob",
// bob's old message must not show as mallory's).
import { describe, expect, it } from 'vitest';
import { isMine, isolate, isolatedParts, personLabel, senderKey, shownUsername } from '../src/sender';

describe('isMine', () => {
  const bobsOldMessage = { from: 'bob', account: 'sub-bob' };
  it('with sign-in, a message under your name from another account is not yours', () => {
    expect(isMine(bobsOldMessage, { name: 'bob', account: 'sub-mallory' })).toBe(false);
    expect(isMine({ from: 'bob', account: 'sub-mallory' }, { name: 'bob', account: 'sub-mallory' })).toBe(true);
  });
  it('with sign-in, your message under your old name is still yours', () => {
    expect(isMine(bobsOldMessage, { name: 'bobby', account: 'sub-bob' })).toBe(true);
  });
  it('without sign-in, the name is all there is', () => {
    expect(isMine({ from: 'bob' }, { name: 'bob' })).toBe(true);
    expect(isMine({ from: 'bobby' }, { name: 'bob' })).toBe(false);
    expect(isMine(bobsOldMessage, { name: 'bob' })).toBe(false);
  });
});

describe('senderKey', () => {
  it('follows the account with sign-in, so a name taken over gets another colour', () => {
    expect(senderKey({ from: 'bob', account: 'sub-bob' })).not.toBe(senderKey({ from: 'bob', account: 'sub-mallory' }));
    expect(senderKey({ from: 'bob', account: 'sub-bob' })).toBe(senderKey({ from: 'bobby', account: 'sub-bob' }));
    expect(senderKey({ from: 'Bob' })).toBe(senderKey({ from: 'bob' }));
  });
});

describe('isolate', () => {
  it('wraps a name so an override inside it ends with it, and the page can show it as <bdi>', () => {
    const line = `${isolate('\u202Eevil')} is now ${isolate('bob')}`;
    expect(line).toBe('\u2068\u202Eevil\u2069 is now \u2068bob\u2069');
    expect(isolatedParts(line)).toEqual([
      { text: '\u202Eevil', isolated: true },
      { text: ' is now ', isolated: false },
      { text: 'bob', isolated: true },
    ]);
    expect(isolatedParts('plain')).toEqual([{ text: 'plain', isolated: false }]);
  });
});

describe('shownUsername', () => {
  it('shows the username beside a display name that differs, so two people never look the same', () => {
    expect(shownUsername({ from: 'Alicia', account: 'sub-alice', username: 'alice' })).toBe('alice');
    expect(shownUsername({ from: 'bob', account: 'sub-carol', username: 'carol' })).toBe('carol');
  });
  it('adds nothing where the name is the username (in any case), without sign-in, or from an older server', () => {
    expect(shownUsername({ from: 'Alice', account: 'sub-alice', username: 'alice' })).toBeUndefined();
    expect(shownUsername({ from: 'Alicia' })).toBeUndefined();
    expect(shownUsername({ from: 'Alicia', account: 'sub-alice' })).toBeUndefined();
  });
});

describe('personLabel', () => {
  it('names a person in a sentence with the username beside a name that differs, each part isolated', () => {
    expect(personLabel('Alicia', 'alice')).toBe(`${isolate('Alicia')} (@${isolate('alice')})`);
    expect(personLabel('Alice', 'alice')).toBe(isolate('Alice'));
    expect(personLabel('Alicia')).toBe(isolate('Alicia'));
  });
});
