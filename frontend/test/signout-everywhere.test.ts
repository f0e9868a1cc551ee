// Sign out everywhere (src/signout.ts): the frame first, on the open
// connection, and its answer awaited; then the page leaves and every
// refresh token of the account is revoked. Each failure is said, none
// silent: not connected (nothing done), no answer or an error (nothing
// done here: try again), the revocation refused (signed out here, told).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ANSWER_WAIT_MS, signOutEverywhere, type EverywhereSteps } from '../src/signout';

function steps(over: Partial<EverywhereSteps> = {}): EverywhereSteps & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    send: () => {
      calls.push('send');
      return true;
    },
    answer: () => {
      calls.push('answer');
      return Promise.resolve({ closed: true });
    },
    leave: () => {
      calls.push('leave');
    },
    revoke: () => {
      calls.push('revoke');
      return Promise.resolve();
    },
    ...over,
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('sign out everywhere', () => {
  it('sends the frame, waits for the server to close the connection, then leaves and revokes', async () => {
    const s = steps();
    await expect(signOutEverywhere(s)).resolves.toEqual({ ok: true });
    expect(s.calls).toEqual(['send', 'answer', 'leave', 'revoke']);
  });

  it('not connected: nothing is done, and the person is told', async () => {
    const s = steps({ send: () => false });
    const r = await signOutEverywhere(s);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.problem).toMatch(/not connected/i);
    expect(s.calls).toEqual([]);
  });

  it('an error answer: nothing more is done here, and the person is told it', async () => {
    const s = steps({ answer: () => Promise.resolve({ closed: false, message: 'The server could not do that just now; please try again.' }) });
    const r = await signOutEverywhere(s);
    expect(r).toEqual({ ok: false, problem: 'Not signed out everywhere: The server could not do that just now; please try again.' });
    expect(s.calls).toEqual(['send']);
  });

  it(`no answer within ${ANSWER_WAIT_MS} ms: the person is told to try again`, async () => {
    const s = steps({ answer: () => new Promise(() => undefined) });
    const r = signOutEverywhere(s);
    await vi.advanceTimersByTimeAsync(ANSWER_WAIT_MS);
    const got = await r;
    expect(got.ok).toBe(false);
    expect(got.ok === false && got.problem).toMatch(/no answer/i);
    expect(s.calls).toEqual(['send']);
  });

  it('the revocation fails: the connections are closed and this page signed out, and the person is told the rest failed', async () => {
    const s = steps({ revoke: () => Promise.reject(new Error('Cannot reach the sign-in service.')) });
    const r = await signOutEverywhere(s);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.problem).toMatch(/other devices.*Cannot reach the sign-in service/);
    expect(s.calls).toEqual(['send', 'answer', 'leave']);
  });
});
