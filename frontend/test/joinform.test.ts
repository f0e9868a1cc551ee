// With sign-in the join form's name field is not a guest name: the form says
// what the server does with it (issue 22: it was silently ignored).
import { describe, expect, it } from 'vitest';
import { joinNameHint } from '../src/joinform';

describe('joinNameHint', () => {
  it('without sign-in, offers a guest name', () => {
    expect(joinNameHint(null)).toMatch(/guest name/);
  });
  it('with sign-in, says the name is the account\'s and the field counts only on its first visit', () => {
    const hint = joinNameHint({ username: 'alice' });
    expect(hint).not.toMatch(/guest/);
    expect(hint).toMatch(/alice/);
    expect(hint).toMatch(/first visit/);
    expect(hint).toMatch(/Change name/);
  });
});
