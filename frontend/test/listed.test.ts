// A page that joins after alice renamed to Alicia hears no joined or renamed
// about her: it knows her from the state's list and from the pages of the
// members action, read from the room index. Each gives her username beside
// her name, so the member list shows "Alicia (@alice)" (issue 22, item 3).
import { describe, expect, it } from 'vitest';
import { isolate, listedUsernames, personLabel } from '../src/sender';

const label = (pairs: Array<[string, string]>, name: string) =>
  personLabel(name, new Map(pairs).get(name));

describe('listedUsernames', () => {
  it("gives a state's usernames at the index of its names", () => {
    const pairs = listedUsernames(['Alicia', 'bob'], ['alice', '']);
    expect(pairs).toEqual([['Alicia', 'alice']]);
    expect(label(pairs, 'Alicia')).toBe(`${isolate('Alicia')} (@${isolate('alice')})`);
    expect(label(pairs, 'bob')).toBe(isolate('bob'));
  });

  it("gives a memberPage's entries' usernames", () => {
    const pairs = listedUsernames([{ name: 'bob' }, { name: 'Alicia', username: 'alice', account: 'a-1' } as { name: string }]);
    expect(pairs).toEqual([['Alicia', 'alice']]);
  });

  it('gives none from a server before lists carried them', () => {
    expect(listedUsernames(['Alicia', 'bob'])).toEqual([]);
    expect(listedUsernames(['Alicia', 'bob'], [])).toEqual([]);
    expect(listedUsernames([{ name: 'Alicia' }])).toEqual([]);
  });
});
