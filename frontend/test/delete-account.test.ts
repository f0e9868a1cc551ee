// Deleting one's account (src/deleteaccount.ts): the person is asked first
// and nothing is sent without a yes; then the frame, its answer awaited;
// then the page leaves and the sign-in account is deleted. Each failure is
// said, none silent.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DELETE_QUESTION, DELETE_WAIT_MS, deleteAccount, type DeleteSteps } from '../src/deleteaccount';

function steps(over: Partial<DeleteSteps> = {}): DeleteSteps & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    confirm: (q) => {
      calls.push(`confirm:${q === DELETE_QUESTION}`);
      return true;
    },
    send: () => {
      calls.push('send');
      return true;
    },
    answer: () => {
      calls.push('answer');
      return Promise.resolve({ deleted: true });
    },
    leave: () => {
      calls.push('leave');
    },
    deleteUser: () => {
      calls.push('deleteUser');
      return Promise.resolve();
    },
    ...over,
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('delete account', () => {
  it('asks, sends the frame, waits for accountDeleted, then leaves and deletes the sign-in account', async () => {
    const s = steps();
    await expect(deleteAccount(s)).resolves.toEqual({ ok: true });
    expect(s.calls).toEqual(['confirm:true', 'send', 'answer', 'leave', 'deleteUser']);
  });

  it('the person says no: nothing is sent, nothing deleted', async () => {
    const calls: string[] = [];
    const s = steps({ confirm: () => (calls.push('confirm'), false), send: () => (calls.push('send'), true) });
    const r = await deleteAccount(s);
    expect(r).toEqual({ ok: false, cancelled: true, problem: '' });
    expect(calls).toEqual(['confirm']);
    expect(s.calls).toEqual([]);
  });

  it('the question says what deleting does', () => {
    expect(DELETE_QUESTION).toMatch(/names are released/);
    expect(DELETE_QUESTION).toMatch(/cannot sign in again/);
  });

  it('not connected: nothing is deleted, and the person is told', async () => {
    const s = steps({ send: () => false });
    const r = await deleteAccount(s);
    expect(r.ok === false && r.problem).toMatch(/not connected/i);
    expect(s.calls).toEqual(['confirm:true']);
  });

  it('an error answer: the sign-in account is kept, and the person is told why', async () => {
    const s = steps({ answer: () => Promise.resolve({ deleted: false, message: 'The server could not do that just now; please try again.' }) });
    const r = await deleteAccount(s);
    expect(r).toEqual({ ok: false, problem: 'Your account was not deleted: The server could not do that just now; please try again.' });
    expect(s.calls).toEqual(['confirm:true', 'send']);
  });

  it(`no answer within ${DELETE_WAIT_MS} ms: the sign-in account is kept, and the person is told`, async () => {
    const s = steps({ answer: () => new Promise(() => undefined) });
    const r = deleteAccount(s);
    await vi.advanceTimersByTimeAsync(DELETE_WAIT_MS);
    const got = await r;
    expect(got.ok === false && got.problem).toMatch(/no answer/i);
    expect(s.calls).toEqual(['confirm:true', 'send']);
  });

  it('the sign-in account cannot be deleted: the person is told the chat account is gone', async () => {
    const s = steps({ deleteUser: () => Promise.reject(new Error('Cannot reach the sign-in service.')) });
    const r = await deleteAccount(s);
    expect(r.ok === false && r.problem).toMatch(/chat account is deleted.*Cannot reach the sign-in service/);
    expect(s.calls).toEqual(['confirm:true', 'send', 'answer', 'leave']);
  });
});
