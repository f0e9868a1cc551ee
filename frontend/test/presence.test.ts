// Who the member list shows when presence frames arrive out of order: per
// name, only a claim or release newer (by ts) than the last one applied
// counts; a state starts over; a members frame is the whole list except for
// names with newer news of their own; the settle state's list only adds or
// removes names no frame since the state spoke of.
import { describe, expect, it } from 'vitest';
import { applyPresence, newerCount, NO_PRESENCE, presentNames, type Presence, type PresenceFrame } from '../src/presence';
import { sortNames } from '../src/protocol';

const state = (...members: string[]): PresenceFrame => ({ type: 'state', members });
const joined = (name: string, ts: number): PresenceFrame => ({ type: 'joined', name, ts });
const left = (name: string, ts: number): PresenceFrame => ({ type: 'left', name, ts });
const joinedV = (name: string, ts: number, account: string, v: number): PresenceFrame => ({ type: 'joined', name, ts, account, v });
const leftV = (name: string, ts: number, account: string, v: number): PresenceFrame => ({ type: 'left', name, ts, account, v });
const renamed = (oldName: string, name: string, ts: number): PresenceFrame => ({ type: 'renamed', oldName, name, ts });
const members = (ts: number, ...names: string[]): PresenceFrame => ({ type: 'members', members: names, ts });
const settled = (...names: string[]): PresenceFrame => ({ type: 'settled', members: names });
/** A members frame of a server that stamps each person who left (its list lags, and is not followed). */
const membersLeft = (ts: number, list: string[], ...left: Array<[string, number, string?, number?]>): PresenceFrame => ({
  type: 'members',
  members: list,
  ts,
  left: left.map(([name, lts, account, v]) => (account === undefined ? { name, ts: lts } : { name, ts: lts, account, v })),
});

/** The list after the frames, in the order they arrived, sorted as the page shows it. */
function shown(...frames: PresenceFrame[]): string[] {
  return sortNames(presentNames(frames.reduce<Presence>(applyPresence, NO_PRESENCE)));
}

describe('the member list, frame by frame in arrival order', () => {
  const cases: Array<[string, PresenceFrame[], string[]]> = [
    ['a state shows its members', [state('Bob', 'Alice')], ['Alice', 'Bob']],
    ['someone joining is added', [state('Alice'), joined('Bob', 10)], ['Alice', 'Bob']],
    ['someone leaving is removed', [state('Alice', 'Bob'), left('Bob', 10)], ['Alice']],
    [
      'a late `left` of a dropped connection does not remove the person who reconnected',
      [state('Alice'), joined('Ann', 20), left('Ann', 10)],
      ['Alice', 'Ann'],
    ],
    [
      'a late `joined` does not bring back someone who has left since',
      [state('Alice'), left('Ann', 20), joined('Ann', 10)],
      ['Alice'],
    ],
    ['frames in order still work: joined, left, joined again', [state('Alice'), joined('Ann', 10), left('Ann', 20), joined('Ann', 30)], ['Alice', 'Ann']],
    [
      'names are one whatever their case: a late `left` of "ann" does not remove "Ann" who came back',
      [state('Alice'), joined('Ann', 20), left('ann', 10)],
      ['Alice', 'Ann'],
    ],
    ['a `left` in another case removes the person', [state('Alice', 'Ann'), left('ANN', 10)], ['Alice']],
    ['a rename replaces the old name with the new one', [state('Alice', 'Ann'), renamed('Ann', 'Bob', 10)], ['Alice', 'Bob']],
    [
      'a late rename away from Ann keeps the Ann who joined after it, and still adds Bob',
      [state('Alice'), joined('Ann', 40), renamed('Ann', 'Bob', 30)],
      ['Alice', 'Ann', 'Bob'],
    ],
    [
      'a late rename to Bob does not bring back a Bob who left after it',
      [state('Alice', 'Ann'), left('Bob', 40), renamed('Ann', 'Bob', 30)],
      ['Alice'],
    ],
    [
      'a late `left` of the old name does not remove the person who took it by renaming',
      [state('Alice', 'Ann'), renamed('guest-1', 'Ann', 20), left('Ann', 10)],
      ['Alice', 'Ann'],
    ],
    ['a change of case only shows the new spelling', [state('Alice', 'ann'), renamed('ann', 'Ann', 10)], ['Alice', 'Ann']],
    ['a late change of case does not bring back someone who left', [state('Alice', 'ann'), left('ann', 20), renamed('ann', 'Ann', 10)], ['Alice']],
    ['the answer to setting the name one already has changes nothing', [state('Alice', 'Ann'), left('Ann', 20), renamed('Ann', 'Ann', 30)], ['Alice']],
    [
      'at an equal ts being there wins: a name freed and taken in one millisecond stays',
      [state('Alice'), joined('Ann', 10), left('Ann', 10)],
      ['Alice', 'Ann'],
    ],
    ['at an equal ts being there wins, in the other order too', [state('Alice', 'Ann'), left('Ann', 10), joined('Ann', 10)], ['Alice', 'Ann']],
    [
      'a state starts over: it shows its list, and a `left` after it applies whatever came before',
      [joined('Ann', 50), state('Alice', 'Ann'), left('Ann', 10)],
      ['Alice'],
    ],
    ['a state replaces the list, even a newer-looking one', [state('Alice'), joined('Ann', 50), state('Alice', 'Bob')], ['Alice', 'Bob']],
    [
      "a person's left decided before her reload's joined, delivered after it with a later ts, does not drop her",
      [state('Alice', 'Ann'), joinedV('Ann', 10, 'a', 7), leftV('Ann', 20, 'a', 6)],
      ['Alice', 'Ann'],
    ],
    [
      "a person's joined decided after her left is applied even with an earlier ts",
      [state('Alice', 'Ann'), leftV('Ann', 20, 'a', 6), joinedV('Ann', 10, 'a', 7)],
      ['Alice', 'Ann'],
    ],
    ["a person's left with a greater v removes her", [state('Alice'), joinedV('Ann', 20, 'a', 6), leftV('Ann', 10, 'a', 7)], ['Alice']],
    [
      'v orders one account only: another account taking the name is still ordered by ts',
      [state('Alice'), leftV('Ann', 30, 'a', 9), joinedV('Ann', 20, 'b', 1)],
      ['Alice'],
    ],
  ];
  it.each(cases)('%s', (_, frames, want) => {
    expect(shown(...frames)).toEqual(want);
  });
});

describe('a members frame (the list after stale connections were removed)', () => {
  const cases: Array<[string, PresenceFrame[], string[]]> = [
    ['replaces the list: who went is removed, who is listed is added', [state('Alice', 'Carol'), members(10, 'Alice', 'Bob')], ['Alice', 'Bob']],
    [
      'keeps someone who joined after its ts, though not listed',
      [state('Alice', 'Carol'), joined('Dan', 20), members(10, 'Alice')],
      ['Alice', 'Dan'],
    ],
    [
      'keeps someone who took a name by renaming after its ts',
      [state('Alice', 'Carol'), renamed('Carol', 'Cat', 20), members(10, 'Alice', 'Carol')],
      ['Alice', 'Cat'],
    ],
    ['removes someone who joined before its ts and is not listed', [state('Alice'), joined('Dan', 5), members(10, 'Alice')], ['Alice']],
    ['does not bring back someone who left after its ts', [state('Alice', 'Bob'), left('Bob', 20), members(10, 'Alice', 'Bob')], ['Alice']],
    ['brings back someone listed who left before its ts', [state('Alice', 'Bob'), left('Bob', 5), members(10, 'Alice', 'Bob')], ['Alice', 'Bob']],
    [
      'remembers nothing itself: a late `joined` older than it still adds the person',
      [state('Alice', 'Carol'), members(10, 'Alice'), joined('Dan', 5)],
      ['Alice', 'Dan'],
    ],
    [
      'leaves the memory alone: a late `left` older than a `joined` before it is still ignored',
      [state('Alice'), joined('Dan', 5), members(10, 'Alice', 'Dan'), left('Dan', 3)],
      ['Alice', 'Dan'],
    ],
  ];
  it.each(cases)('%s', (_, frames, want) => {
    expect(shown(...frames)).toEqual(want);
  });
});

describe('a members frame with the people who left stamped (left)', () => {
  const cases: Array<[string, PresenceFrame[], string[]]> = [
    [
      'does not undo a rename just before it, though its lagging list has the old name',
      [state('Alice', 'Bob', 'Carol'), renamed('Alice', 'Ann', 20), membersLeft(30, ['Alice', 'Bob'], ['Carol', 25])],
      ['Ann', 'Bob'],
    ],
    [
      'does not drop someone who joined just before it, though its lagging list misses her',
      [state('Bob', 'Carol'), joined('Dan', 20), membersLeft(30, ['Bob'], ['Carol', 25])],
      ['Bob', 'Dan'],
    ],
    [
      'removes who left even after her own rename just before (stamped after it)',
      [state('Alice', 'Bob'), renamed('Alice', 'Ann', 20), membersLeft(30, ['Alice', 'Bob'], ['Ann', 25, 'a', 4])],
      ['Bob'],
    ],
    [
      'does not hide someone who took the name after the removal released it',
      [state('Bob', 'Carol'), joined('Carol', 40), membersLeft(50, ['Bob'], ['Carol', 25])],
      ['Bob', 'Carol'],
    ],
    [
      'is held to a person’s v: a leaving decided before her reload’s joined does not drop her',
      [state('Bob', 'Cid'), joinedV('Cid', 10, 'c', 7), membersLeft(30, ['Bob'], ['Cid', 20, 'c', 6])],
      ['Bob', 'Cid'],
    ],
    [
      'adds someone still in on another device (stayed), whose joined the page never got',
      [
        state('Bob'),
        { type: 'members', members: ['Bob'], ts: 30, left: [], stayed: [{ name: 'Dave', ts: 25, account: 'd', v: 5 }] },
      ],
      ['Bob', 'Dave'],
    ],
    [
      'marks its leavings: the settle state’s lagging list does not bring the person back',
      [state('Bob', 'Carol'), membersLeft(30, ['Bob', 'Carol'], ['Carol', 25]), settled('Bob', 'Carol')],
      ['Bob'],
    ],
  ];
  it.each(cases)('%s', (_, frames, want) => {
    expect(shown(...frames)).toEqual(want);
  });
});

describe('the count the page shows (newerCount)', () => {
  /** The count shown after counts [count, cv] arrive in this order, from a state of count 3 at cv 10. */
  function counted(...frames: Array<[number, number | undefined]>): number {
    let shown = 3;
    let last = 10;
    for (const [count, cv] of frames) {
      if (!newerCount(last, cv)) continue;
      shown = count;
      if (cv !== undefined) last = cv;
    }
    return shown;
  }
  it('keeps the newer of two people’s counts that arrive out of order', () => {
    expect(counted([2, 14], [4, 12])).toBe(2);
  });
  it('takes the settle state’s count over the first state’s when it is newer', () => {
    expect(counted([2, 12])).toBe(2);
  });
  it('ignores a count older than the state', () => {
    expect(counted([5, 8])).toBe(3);
  });
  it('takes counts as they come from a server before cv', () => {
    expect(counted([4, undefined], [2, undefined])).toBe(2);
  });
});

describe('the settle state (the list asked for again after connecting)', () => {
  const cases: Array<[string, PresenceFrame[], string[]]> = [
    ['adds someone the state missed, as the index lagged', [state('Alice'), settled('Alice', 'Bob')], ['Alice', 'Bob']],
    [
      'adds someone whose `joined` did not reach us',
      [state('Alice', 'Bob'), joined('Carol', 10), settled('Alice', 'Bob', 'Carol', 'Dan')],
      ['Alice', 'Bob', 'Carol', 'Dan'],
    ],
    ['removes someone no frame spoke of who is not listed', [state('Alice', 'Bob'), settled('Alice')], ['Alice']],
    ['keeps someone who joined, though the index still lags behind it', [state('Alice'), joined('Dan', 10), settled('Alice')], ['Alice', 'Dan']],
    [
      'keeps a rename, though the index still shows the old name',
      [state('Alice', 'Carol'), renamed('Carol', 'Cat', 10), settled('Alice', 'Carol')],
      ['Alice', 'Cat'],
    ],
    ['does not bring back someone who left', [state('Alice', 'Bob'), left('Bob', 10), settled('Alice', 'Bob')], ['Alice']],
    [
      'remembers nothing itself: a later frame is still held to the last one applied',
      [state('Alice'), joined('Dan', 10), settled('Alice'), left('Dan', 5), joined('Eve', 1)],
      ['Alice', 'Dan', 'Eve'],
    ],
  ];
  it.each(cases)('%s', (_, frames, want) => {
    expect(shown(...frames)).toEqual(want);
  });
});

describe('applyPresence is pure', () => {
  it('returns a new value and leaves the old one as it was', () => {
    const before = applyPresence(NO_PRESENCE, state('Alice'));
    const after = applyPresence(before, joined('Ann', 10));
    expect(presentNames(before)).toEqual(['Alice']);
    expect(sortNames(presentNames(after))).toEqual(['Alice', 'Ann']);
    expect(presentNames(NO_PRESENCE)).toEqual([]);
  });

  it('returns the same value for a frame it ignores', () => {
    const p = [state('Alice'), joined('Ann', 20)].reduce<Presence>(applyPresence, NO_PRESENCE);
    expect(applyPresence(p, left('Ann', 10))).toBe(p);
  });
});
