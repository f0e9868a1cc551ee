import { describe, expect, it } from 'vitest';
import { EDIT_TRIES, EditSender } from '../src/editsend';
import type { ClientFrame, ErrorFrame, ServerFrame } from '../src/protocol';

function harness(ready = true) {
  const sent: ClientFrame[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const lost: string[] = [];
  const h = {
    ready,
    sent,
    timers,
    lost,
    refOf: (i: number) => (sent[i] as { ref?: string }).ref,
    s: new EditSender(
      (f) => {
        if (!h.ready) return false;
        sent.push(f);
        return true;
      },
      { set: (fn, ms) => timers.push({ fn, ms }) },
      (id) => lost.push(id),
    ),
  };
  return h;
}

const refused = (ref: string | undefined, code: string, retryAfterMs?: number): ErrorFrame => ({
  type: 'error',
  code,
  message: 'no',
  action: 'edit',
  ...(ref !== undefined ? { ref } : {}),
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});

describe('an edit on its way', () => {
  it('goes out with a ref of its own', () => {
    const { s, sent, refOf } = harness();
    expect(s.send('m1', 'See you at 7')).toBe(true);
    expect(sent).toEqual([{ action: 'edit', id: 'm1', message: 'See you at 7', ref: refOf(0) }]);
    expect(refOf(0)).toBeTruthy();
  });

  it('refused by the budget, is sent again when the server says, and shown by nobody', () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', '@alice See you at 6');
    expect(s.answered(refused(refOf(0), 'rate_limited', 1200))).toBe(true);
    expect(sent).toHaveLength(1);
    expect(timers.map((t) => t.ms)).toEqual([1200]);
    timers[0]!.fn();
    expect(sent[1]).toMatchObject({ action: 'edit', id: 'm1', message: '@alice See you at 6' });
    expect(refOf(1)).not.toBe(refOf(0));
    const own: ServerFrame = { type: 'edited', room: 'r', id: 'm1', message: '@alice See you at 6', edited: 5, ref: refOf(1)! };
    expect(s.answered(own)).toBe(false); // the page shows its own copy as any
    expect(s.answered(refused(refOf(1), 'rate_limited', 10))).toBe(false); // answered already
  });

  it('leaves any other refusal, and frames that are not its own, to the caller', () => {
    const { s, timers, refOf } = harness();
    s.send('m1', 'x');
    expect(s.answered(refused(undefined, 'rate_limited', 10))).toBe(false);
    expect(s.answered(refused('someone-else', 'rate_limited', 10))).toBe(false);
    expect(s.answered(refused(refOf(0), 'edit_window_closed'))).toBe(false);
    expect(timers).toEqual([]);
  });

  it(`gives up after ${EDIT_TRIES} refusals by the budget, and the last is shown`, () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', 'x');
    for (let i = 0; i < EDIT_TRIES - 1; i++) {
      expect(s.answered(refused(refOf(i), 'rate_limited', 100))).toBe(true);
      timers[i]!.fn();
    }
    expect(sent).toHaveLength(EDIT_TRIES);
    expect(s.answered(refused(refOf(EDIT_TRIES - 1), 'rate_limited', 100))).toBe(false);
  });

  it('says so when it cannot go out', () => {
    const { s, sent } = harness(false);
    expect(s.send('m1', 'x')).toBe(false);
    expect(sent).toEqual([]);
  });
});

describe('two edits of one message', () => {
  it('an older one the budget refused is not sent again over a newer one', () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', 'See you at 6');
    s.send('m1', 'See you at 7');
    expect(s.answered(refused(refOf(0), 'rate_limited', 100))).toBe(true); // replaced: nothing to show
    expect(timers).toEqual([]);
    expect(sent.map((f) => (f as { message: string }).message)).toEqual(['See you at 6', 'See you at 7']);
  });

  it('a newer one made while an older one waits to go again wins', () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', 'See you at 6');
    expect(s.answered(refused(refOf(0), 'rate_limited', 100))).toBe(true);
    s.send('m1', 'See you at 7');
    timers[0]!.fn();
    expect(sent.map((f) => (f as { message: string }).message)).toEqual(['See you at 6', 'See you at 7']);
  });

  it('edits of two messages wait apart', () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', 'a');
    s.send('m2', 'b');
    expect(s.answered(refused(refOf(0), 'rate_limited', 100))).toBe(true);
    timers[0]!.fn();
    expect(sent.map((f) => (f as { id: string }).id)).toEqual(['m1', 'm2', 'm1']);
  });
});
describe('an edit sent again (hostile review)', () => {
  it('an older edit refused by the budget is not sent again over a newer one of the same message', () => {
    const { s, sent, timers, refOf } = harness();
    s.send('m1', 'See you at 6'); // refused: waits for the budget
    expect(s.answered(refused(refOf(0), 'rate_limited', 1000))).toBe(true);
    s.send('m1', 'See you at 7'); // the user edits again, and it is taken
    const own: ServerFrame = { type: 'edited', room: 'r', id: 'm1', message: 'See you at 7', edited: 5, ref: refOf(1)! };
    expect(s.answered(own)).toBe(false);
    timers[0]!.fn(); // the older text must not go out after the newer: the server would store it as the latest edit
    expect(sent.map((f) => (f as { message: string }).message)).toEqual(['See you at 6', 'See you at 7']);
  });

  it('an edit refused by the budget whose time comes while the connection is down is not lost silently', () => {
    const h = harness();
    h.s.send('m1', 'See you at 6');
    expect(h.s.answered(refused(h.refOf(0), 'rate_limited', 1000))).toBe(true);
    h.ready = false; // the connection drops before the retry
    h.timers[0]!.fn();
    expect(h.sent).toHaveLength(1);
    expect(h.lost).toEqual(['m1']); // the page is told, as a first send that cannot go out is
  });
});

describe('an edit waiting for the budget when the room is left', () => {
  it('is not sent to the room joined next: it is said not edited as the room is left', () => {
    const h = harness();
    h.s.send('m1', 'See you at 6');
    expect(h.s.answered(refused(h.refOf(0), 'rate_limited', 1000))).toBe(true);
    h.s.clear(); // the page leaves the room (closeRoom), and joins another
    expect(h.lost).toEqual(['m1']); // said not edited as the room is left, not silently dropped
    h.timers[0]!.fn();
    expect(h.sent).toHaveLength(1); // the server would answer "There is no such message of yours in this room."
    expect(h.lost).toEqual(['m1']);
  });
});
