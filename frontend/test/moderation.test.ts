// A moderator's controls on a member, and what the page says of a
// moderation act: a muted person reads the minutes left instead of a silent
// failure; a kick or ban closes the room of the account acted on.
import { describe, expect, it } from 'vitest';
import { actFrame, failureText, Moderation, moderatedText, mutedText } from '../src/moderation';
import type { ModeratedFrame } from '../src/protocol';

const ts = 1_733_360_000_000;
const mod = (f: Partial<ModeratedFrame>): ModeratedFrame => ({ type: 'moderated', act: 'mute', account: 'acct-bob', room: 'lobby', ts, ...f });

describe('a refused send of a muted person', () => {
  it('says the minutes left, rounded up', () => {
    expect(mutedText(5 * 60_000)).toBe('You are muted in this room for 5 minutes more.');
    expect(mutedText(4 * 60_000 + 1)).toBe('You are muted in this room for 5 minutes more.');
    expect(mutedText(30_000)).toBe('You are muted in this room for 1 minute more.');
    expect(mutedText(undefined)).toBe('You are muted in this room until a moderator lifts it.');
  });

  it('is what the log shows in the message\'s place; other refusals keep the server\'s sentence', () => {
    expect(failureText({ type: 'error', code: 'muted', message: 'server words', retryAfterMs: 3_600_000 })).toBe(
      'Not sent: You are muted in this room for 60 minutes more.',
    );
    expect(failureText({ type: 'error', code: 'message_too_long', message: 'Too long.' })).toBe('Not sent: Too long.');
    expect(failureText(undefined)).toBe('Not sent: the server refused it.');
  });
});

describe('a moderated frame', () => {
  it('tells the muted account how long, and does not close its room', () => {
    expect(moderatedText(mod({ until: ts + 5 * 60_000, reason: 'flood' }), true, 'bob')).toEqual({
      text: 'A moderator muted you in this room for 5 minutes: your messages are not sent until then. Reason: flood',
      closes: false,
    });
    expect(moderatedText(mod({ act: 'unmute' }), true, 'bob').closes).toBe(false);
  });

  it('closes the room of an account kicked or banned', () => {
    expect(moderatedText(mod({ act: 'kick' }), true, 'bob')).toEqual({ text: 'A moderator removed you from this room. You may join again.', closes: true });
    expect(moderatedText(mod({ act: 'ban', room: undefined }), true, 'bob')).toEqual({
      text: 'A moderator banned you from the whole chat until they lift it.',
      closes: true,
    });
    expect(moderatedText(mod({ act: 'ban', until: ts + 60 * 60_000 }), true, 'bob').text).toBe('A moderator banned you from this room for 60 minutes.');
  });

  it('is the moderator\'s answer, which closes nothing', () => {
    expect(moderatedText(mod({ until: ts + 60 * 60_000 }), false, 'bob')).toEqual({ text: 'You muted bob for 60 minutes.', closes: false });
    expect(moderatedText(mod({ act: 'kick' }), false, 'bob')).toEqual({ text: 'You removed bob from this room.', closes: false });
    expect(moderatedText(mod({ act: 'unban' }), false, 'bob').text).toBe("You lifted bob's ban.");
  });
});

describe('the controls on a member', () => {
  const frames = (m: Moderation, name: string) => m.offered(name).map((c) => `${c.label} ${JSON.stringify(c.frame)}`);

  it('are offered only to a moderator, on a member whose account a frame told', () => {
    const m = new Moderation(null, () => true);
    m.learnFrom({ type: 'joined', room: 'lobby', name: 'Bob', ts, account: 'acct-bob' });
    expect(m.offered('bob')).toEqual([]); // not a moderator
    m.moderator = true;
    expect(m.offered('Carol')).toEqual([]); // no account known
    expect(frames(m, 'bob')).toEqual([
      'Mute 5 min {"action":"mute","account":"acct-bob","ref":"moderate","minutes":5}',
      'Mute 1 h {"action":"mute","account":"acct-bob","ref":"moderate","minutes":60}',
      'Unmute {"action":"unmute","account":"acct-bob","ref":"moderate"}',
      'Kick {"action":"kick","account":"acct-bob","ref":"moderate"}',
      'Ban {"action":"ban","account":"acct-bob","ref":"moderate"}',
      'Unban {"action":"unban","account":"acct-bob","ref":"moderate"}',
    ]);
  });

  it('learn accounts from messages and list reads, and name the account in answers', () => {
    const m = new Moderation(null, () => true);
    expect(m.learnFrom({ type: 'public', id: '1', ts, room: 'lobby', from: 'Carol', message: 'hi', account: 'acct-carol' })).toBe(true);
    expect(m.learnFrom({ type: 'public', id: '2', ts, room: 'lobby', from: 'Carol', message: 'again', account: 'acct-carol' })).toBe(false);
    m.learnFrom({ type: 'memberPage', room: 'lobby', count: 1, members: [{ name: 'Dan', account: 'acct-dan' }] });
    expect(m.nameOf('acct-carol')).toBe('Carol');
    expect(m.nameOf('acct-dan')).toBe('Dan');
    expect(m.nameOf('acct-nobody')).toBe('them');
  });

  it('send the act through ask', () => {
    expect(actFrame('ban', 'acct-bob')).toEqual({ action: 'ban', account: 'acct-bob', ref: 'moderate' });
  });
});

describe('the frames the page gets', () => {
  const state = (roles: string[]) =>
    ({ type: 'state', room: 'lobby', you: 'mod', members: ['mod', 'bob'], history: [], limits: { nameMax: 32, messageMax: 2000, recipientsMax: 20 }, roles, private: [] }) as never;

  it('a state\'s roles make you a moderator, and a kick of your account closes the room with why', () => {
    const said: string[] = [];
    const left: string[] = [];
    const m = new Moderation(null, () => true, (t) => said.push(t), (why) => left.push(why), () => 'acct-bob');
    m.frame(state(['moderator']));
    m.frame({ type: 'joined', room: 'lobby', name: 'bob', ts, account: 'acct-bob' });
    expect(m.offered('bob')).toHaveLength(6);
    m.frame(state([]));
    expect(m.offered('bob')).toEqual([]);
    m.frame(mod({ act: 'mute', until: ts + 60_000 }));
    m.frame(mod({ act: 'kick' }));
    expect(said).toEqual(['A moderator muted you in this room for 1 minute: your messages are not sent until then.']);
    expect(left).toEqual(['A moderator removed you from this room. You may join again.']);
  });

  it('the moderator\'s answer (its ref) is said, and closes nothing', () => {
    const said: string[] = [];
    const left: string[] = [];
    const m = new Moderation(null, () => true, (t) => said.push(t), (why) => left.push(why), () => 'acct-mod');
    m.frame({ type: 'joined', room: 'lobby', name: 'bob', ts, account: 'acct-bob' });
    m.frame(mod({ act: 'kick', ref: 'moderate' }));
    expect(said).toEqual(['You removed bob from this room.']);
    expect(left).toEqual([]);
  });
});
