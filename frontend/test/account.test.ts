// Who is signed in and what the page shows for it (src/account.ts), against a
// fake auth library: a stored session, signing in and out, sign-up with its
// code, and a session that ended on its own bringing back the sign-in form
// with the reason.
import { describe, expect, it } from 'vitest';
import { Account, ENDED_NOTICE, type AccountView } from '../src/account';
import { FakeAuth } from './fakes';

function setup(user: string | null = null) {
  const auth = new FakeAuth();
  auth.user = user;
  const views: AccountView[] = [];
  const account = new Account(auth, (v) => views.push(v));
  return { auth, views, account };
}

describe('Account', () => {
  it('a stored session that can be renewed signs the page in at start', async () => {
    const { account, views } = setup('alice');
    await account.resume();
    expect(views).toEqual([{ kind: 'checking' }, { kind: 'signedIn', username: 'alice' }]);
  });

  it('without one, the sign-in form', async () => {
    const { account, views } = setup(null);
    await account.resume();
    expect(views.at(-1)).toEqual({ kind: 'signIn' });
  });

  it('an issuer out of reach at start shows the sign-in form with why', async () => {
    const { account, auth, views } = setup('alice');
    auth.offline = true;
    await account.resume();
    expect(views.at(-1)).toEqual({ kind: 'signIn', notice: 'Cannot reach the sign-in service.' });
  });

  it('signs in, or says what was wrong and stays on the form', async () => {
    const { account, views } = setup(null);
    await account.resume();
    expect(await account.signIn('alice', 'wrong')).toBe('Incorrect username or password.');
    expect(views.at(-1)?.kind).toBe('signIn');
    expect(await account.signIn('alice', 'alice-pw')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'signedIn', username: 'alice' });
    expect(account.username).toBe('alice');
  });

  it('signs out back to the form, the username kept for next time', async () => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    await account.signOut();
    expect(auth.calls.at(-1)).toBe('signOut');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'alice' });
  });

  it('signs out everywhere: every refresh token of the account revoked', async () => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    await account.signOut(true);
    expect(auth.calls.at(-1)).toBe('signOut:global');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'alice' });
  });

  it('a global sign-out that failed rejects, the form shown all the same, and the page can say why on it', async () => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    auth.failGlobalSignOut = true;
    await expect(account.signOut(true)).rejects.toThrow('Cannot reach the sign-in service.');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'alice' });
    account.notice('the other devices were not signed out');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'alice', notice: 'the other devices were not signed out' });
  });

  it('deletes the sign-in account once the chat account is deleted, and the form says so', async () => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    await account.deleteUser();
    expect(auth.calls.at(-1)).toBe('deleteUser');
    expect(views.at(-1)).toEqual({ kind: 'signIn', notice: 'Your account is deleted.' });
    expect(await auth.currentUser()).toBeNull();
  });

  it('a sign-in account the pool could not delete rejects, and the session stays', async () => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    auth.failDeleteUser = true;
    await expect(account.deleteUser()).rejects.toThrow('Cannot reach the sign-in service.');
    expect(views.at(-1)).toEqual({ kind: 'signedIn', username: 'alice' });
  });

  it.each([
    ['expired', ENDED_NOTICE.expired],
    ['refused', ENDED_NOTICE.refused],
  ] as const)('a session that ended (%s) is forgotten and the form says why', async (why, notice) => {
    const { account, auth, views } = setup('alice');
    await account.resume();
    await account.ended(why);
    expect(auth.user).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'alice', notice });
  });

  it('sign-up asks for the code, then for signing in (the page never kept the password)', async () => {
    const { account, auth, views } = setup(null);
    await account.resume();
    expect(await account.signUp('dave', 'dave-pw', 'dave@example.com')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'confirm', username: 'dave' });
    expect(await account.confirm('000000')).toBe('That code is not right.');
    expect(views.at(-1)?.kind).toBe('confirm');
    expect(await account.confirm('123456')).toBeNull();
    expect(auth.calls).toContain('confirmSignUp:dave:123456');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'dave', notice: 'Your account is confirmed. Sign in.' });
  });

  it('an invited account sets a password of its own, then gives its authenticator code, then is in', async () => {
    const { account, auth, views } = setup(null);
    auth.nextStep = 'newPassword';
    auth.steps = ['totpCode'];
    expect(await account.signIn('erin', 'alice-pw')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'newPassword', username: 'erin' });
    expect(await account.answer('erin-own-Passw0rd!')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'totpCode', username: 'erin' });
    expect(await account.answer('wrong')).toBe('That code is not right.');
    expect(views.at(-1)?.kind).toBe('totpCode');
    expect(await account.answer('654321')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'signedIn', username: 'erin' });
  });

  it('a step can be abandoned: back to the sign-in form, nothing kept', async () => {
    const { account, auth, views } = setup(null);
    auth.nextStep = 'totpCode';
    await account.signIn('erin', 'alice-pw');
    await account.cancel();
    expect(auth.calls.at(-1)).toBe('signOut');
    expect(views.at(-1)).toEqual({ kind: 'signIn', username: 'erin' });
  });

  it('an account not confirmed yet is asked for its code at sign-in', async () => {
    const { account, auth, views } = setup(null);
    auth.nextStep = 'confirmSignUp';
    expect(await account.signIn('dave', 'alice-pw')).toBeNull();
    expect(views.at(-1)).toEqual({ kind: 'confirm', username: 'dave' });
  });
});
