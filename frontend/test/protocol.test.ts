// Parsing every frame type the server sends (docs/protocol.md), and the
// small rules the page shares with the server: name folding, member order,
// the room rule and counting code points.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  codePoints,
  DEFAULT_LIMITS,
  FRAME_FIELDS,
  FRAME_KINDS,
  foldName,
  normalizeRoom,
  parseFrame,
  SHAPE_FIELDS,
  sortNames,
  type FieldSpec,
  type FrameKindName,
} from '../src/protocol';

const pub = { type: 'public', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N6', ts: 1764128310123, room: 'lobby', from: 'Bob', message: 'hi' };
const priv = { type: 'private', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N7', ts: 1764128310124, room: 'lobby', from: 'Bob', to: ['Alice'], message: 'psst' };

describe('parseFrame accepts every documented frame', () => {
  const cases: Array<[string, object]> = [
    [
      'state with history and limits',
      {
        type: 'state',
        room: 'lobby',
        you: 'Alice',
        members: ['Alice', 'Bob'],
        roles: [],
        usernames: [],
        history: [pub],
        private: [priv],
        limits: { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 },
        resume: '9nq3d0fS1bXy2Zz0cQ7m1w',
      },
    ],
    [
      'state with a warning about the name',
      {
        type: 'state',
        room: 'lobby',
        you: 'guest-4821',
        members: ['guest-4821'],
        roles: [],
        usernames: [],
        history: [],
        private: [],
        limits: { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 },
        warning: { code: 'name_taken', message: 'The name "Alice" is already taken in this room. You are guest-4821.' },
      },
    ],
    ['pong', { type: 'pong', ts: 1764128310123 }],
    ['joined', { type: 'joined', room: 'lobby', name: 'Carol', ts: 1 }],
    ['left', { type: 'left', room: 'lobby', name: 'Carol', ts: 1 }],
    ['members after stale connections went', { type: 'members', room: 'lobby', members: ['Alice', 'Bob'], gone: ['Carol'], ts: 1 }],
    ['renamed with the sender\'s ref', { type: 'renamed', room: 'lobby', oldName: 'guest-4821', name: 'Alice', ts: 1, ref: 'r1' }],
    ['renamed as others see it', { type: 'renamed', room: 'lobby', oldName: 'guest-4821', name: 'Alice', ts: 1 }],
    ['public', { ...pub, ref: 'r2' }],
    [
      'private',
      { type: 'private', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N7', ts: 1, room: 'lobby', from: 'Alice', to: ['Bob', 'Carol'], message: 'psst', ref: 'r3' },
    ],
    [
      'error with unknown recipients',
      { type: 'error', code: 'recipients_unknown', message: 'Nobody called Zed is in this room.', action: 'sendPrivate', unknown: ['Zed'], ref: 'r3' },
    ],
    ['error without action or ref', { type: 'error', code: 'bad_json', message: 'That is not JSON.' }],
    [
      'state of a big room: the first page and the count',
      {
        type: 'state',
        room: 'lecture',
        you: 'Alice',
        members: ['Alice', 'Bob'],
        roles: [],
        usernames: [],
        history: [],
        private: [],
        limits: { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 },
        count: 1812,
        membersCursor: 'MTIzNDU2Nzg5MGFi',
      },
    ],
    ['joined with the count', { type: 'joined', room: 'lobby', name: 'Carol', ts: 1, count: 3 }],
    ['left with the count', { type: 'left', room: 'lobby', name: 'Carol', ts: 1, count: 2 }],
    ['members with the count', { type: 'members', room: 'lobby', members: ['Alice'], gone: ['Carol'], ts: 1, count: 1 }],
    ['pong with the count', { type: 'pong', ts: 1, count: 1812 }],
    [
      'members with each person who left stamped, and the count\'s version',
      {
        type: 'members',
        room: 'lobby',
        members: ['Alice'],
        gone: ['Carol', 'Dan'],
        left: [{ name: 'Carol', ts: 1 }, { name: 'Dan', ts: 2, account: 'a2', v: 7 }],
        ts: 3,
        count: 1,
        cv: 86,
      },
    ],
    ['presence with the count\'s version', { type: 'presence', room: 'lobby', count: 2, ts: 1, cv: 84 }],
    ['pong with the count\'s version', { type: 'pong', ts: 1, count: 2, cv: 84 }],
    ['left with the count\'s version', { type: 'left', room: 'lobby', name: 'Carol', ts: 1, count: 2, cv: 85, account: 'a3', v: 4 }],
    // Moderation (issue 24): a removal, and a moderator's state whose history gives one in place of the text.
    ['removed by a moderator', { type: 'removed', room: 'lobby', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N6', by: 'moderator', reason: 'spam', at: 2 }],
    ['removed by its sender, your own copy', { type: 'removed', room: 'lobby', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N6', by: 'sender', at: 2, ref: 'x1' }],
    [
      'state of a moderator, with a removal in history',
      {
        type: 'state',
        room: 'lobby',
        you: 'mod',
        members: ['mod'],
        roles: ['moderator'],
        usernames: ['alice'],
        history: [{ ...pub, message: '', removed: { by: 'sender', at: 2 } }],
        private: [],
        limits: { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 },
      },
    ],
    ['presence: a big room\'s count', { type: 'presence', room: 'lecture', count: 1812, ts: 1 }],
    [
      'memberPage with a cursor',
      { type: 'memberPage', room: 'lecture', count: 1812, members: [{ name: 'Alice' }, { name: 'Bob', account: 'a1' }], cursor: 'MTIz', ref: 'm1' },
    ],
    ['memberPage, the last', { type: 'memberPage', room: 'lecture', count: 2, members: [{ name: 'Alice' }] }],
    // With sign-in every frame naming a sender or member carries the account (issue 12).
    ['public with the sender\'s account', { ...pub, account: 'sub-bob' }],
    [
      'private with the sender\'s account',
      { type: 'private', id: '01JDZ4W7Q8T5V9XGQ2J3K4M5N7', ts: 1, room: 'lobby', from: 'Alice', to: ['Bob'], message: 'psst', account: 'sub-alice' },
    ],
    ['joined with the account', { type: 'joined', room: 'lobby', name: 'Carol', ts: 1, count: 3, account: 'sub-carol' }],
    ['left with the account', { type: 'left', room: 'lobby', name: 'Carol', ts: 1, account: 'sub-carol' }],
    ['renamed with the account', { type: 'renamed', room: 'lobby', oldName: 'alice', name: 'Alicia', ts: 1, account: 'sub-alice' }],
    [
      'state with your account and accounts in history',
      {
        type: 'state',
        room: 'lobby',
        you: 'alice',
        members: ['alice', 'bob'],
        roles: [],
        usernames: [],
        history: [{ ...pub, account: 'sub-bob' }],
        limits: { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 },
        account: 'sub-alice',
      },
    ],
    [
      'rate_limited with retryAfterMs',
      {
        type: 'error',
        code: 'rate_limited',
        message: 'Too many messages: at most 20 in 10s. Try again in 9.9 s.',
        action: 'sendPublic',
        ref: 'r7',
        retryAfterMs: 9949,
      },
    ],
  ];
  it.each(cases)('%s', (_, frame) => {
    expect(parseFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });
});

describe('parseFrame', () => {
  it('keeps the sender\'s username of a message and yours of a state (sign-in)', () => {
    const pub = { type: 'public', id: '1', ts: 1, room: 'r', from: 'Alicia', message: 'hi', account: 'a', username: 'alice' };
    expect(parseFrame(JSON.stringify(pub))).toEqual({ ok: true, frame: pub });
    const r = parseFrame(JSON.stringify({ type: 'state', room: 'r', you: 'Alicia', members: [], history: [pub], account: 'a', username: 'alice' }));
    expect(r.ok && r.frame.type === 'state' && r.frame.username).toBe('alice');
    expect(r.ok && r.frame.type === 'state' && r.frame.history[0].username).toBe('alice');
  });

  it('ignores unknown fields', () => {
    const r = parseFrame(JSON.stringify({ type: 'pong', ts: 5, extra: { a: 1 } }));
    expect(r).toEqual({ ok: true, frame: { type: 'pong', ts: 5 } });
  });

  it('fills in the documented limits when state has none', () => {
    const r = parseFrame(JSON.stringify({ type: 'state', room: 'x', you: 'A', members: ['A'], history: [] }));
    expect(r.ok && r.frame.type === 'state' && r.frame.limits).toEqual(DEFAULT_LIMITS);
  });

  it('takes the limits the server sends', () => {
    const r = parseFrame(
      JSON.stringify({ type: 'state', room: 'x', you: 'A', members: ['A'], history: [], limits: { nameMax: 10, nameMaxBytes: 20, messageMax: 50, recipientsMax: 3 } }),
    );
    expect(r.ok && r.frame.type === 'state' && r.frame.limits).toEqual({ nameMax: 10, nameMaxBytes: 20, messageMax: 50, recipientsMax: 3 });
  });

  it('treats a state without private (an older server) as no private conversation', () => {
    const r = parseFrame(JSON.stringify({ type: 'state', room: 'x', you: 'A', members: ['A'], history: [] }));
    expect(r.ok && r.frame.type === 'state' && (r.frame.private ?? [])).toEqual([]);
  });

  it('treats a members frame whose gone is null as nobody gone', () => {
    const r = parseFrame(JSON.stringify({ type: 'members', room: 'x', members: ['A'], gone: null, left: [], ts: 1 }));
    expect(r.ok && r.frame.type === 'members' && r.frame.gone).toEqual([]);
  });

  it('treats a members frame without gone as nobody gone', () => {
    const r = parseFrame(JSON.stringify({ type: 'members', room: 'x', members: ['A'], ts: 1 }));
    expect(r.ok && r.frame.type === 'members' && r.frame.gone).toEqual([]);
  });

  it.each([
    ['not JSON', '{nope', 'not JSON'],
    ['a JSON array', '[1,2]', 'the frame is not an object'],
    ['JSON null', 'null', 'the frame is not an object'],
    ['no type', '{"ts":1}', '"type" is not a string'],
    ['an unknown type', '{"type":"shout"}', 'unknown frame type "shout"'],
    ['a public frame without a message', JSON.stringify({ ...pub, message: undefined }), '"message" is not a string'],
    ['a ts that is a string', JSON.stringify({ ...pub, ts: '1' }), '"ts" is not a number'],
    ['members that are not strings', '{"type":"joined","room":"x","name":7,"ts":1}', '"name" is not a string'],
    ['a private frame whose to is not a list', JSON.stringify({ ...pub, type: 'private', to: 'Bob' }), '"to" is not a list of strings'],
    ['a history entry of the wrong shape', '{"type":"state","room":"x","you":"A","members":[],"history":[{"type":"public"}]}', '"id" is not a string'],
    ['a private history entry that is public', JSON.stringify({ type: 'state', room: 'x', you: 'A', members: [], history: [], private: [pub] }), 'an entry of "private" is not a private frame'],
    ['a private history that is not a list', '{"type":"state","room":"x","you":"A","members":[],"history":[],"private":{}}', '"private" is not a list'],
    ['a warning without a message', '{"type":"state","room":"x","you":"A","members":[],"history":[],"warning":{"code":"name_taken"}}', '"message" is not a string'],
    ['a ref that is a number', JSON.stringify({ ...pub, ref: 3 }), '"ref" is not a string'],
  ])('rejects %s', (_, text, reason) => {
    expect(parseFrame(text)).toEqual({ ok: false, reason });
  });

  it('keeps HTML in names and messages as plain strings', () => {
    const name = '<img src=x onerror=alert(1)>';
    const r = parseFrame(JSON.stringify({ ...pub, from: name, message: '<b>bold</b>' }));
    expect(r.ok && r.frame.type === 'public' && [r.frame.from, r.frame.message]).toEqual([name, '<b>bold</b>']);
  });
});

describe('names and rooms', () => {
  it('sorts members case-insensitively, as the server does', () => {
    expect(sortNames(['bob', 'Alice', 'carol', 'Bea'])).toEqual(['Alice', 'Bea', 'bob', 'carol']);
  });

  // The folds below are what the server's Fold (NFKC, then Unicode case
  // folding: lambda/chat/validate.go) gives for these names.
  it.each([
    ['Alice', 'alice'],
    ['ＡＬＩＣＥ', 'alice'], // fullwidth: NFKC, not NFC
    ['ﬁona', 'fiona'], // the ligature ﬁ is two letters under NFKC
    ['Straße', 'strasse'], // case folding turns ß into ss; toLowerCase keeps it
    ['STRASSE', 'strasse'],
    ['ẞ', 'ss'],
    ['ΣΑΣ', 'σασ'], // folding has no final sigma
    ['σας', 'σασ'],
    ['Café', 'café'], // composed and decomposed é are one name
    ['Cafe\u0301', 'café'],
  ])('folds the name %j to %j, as the server does', (name, want) => {
    expect(foldName(name)).toBe(want);
  });

  it('keeps look-alikes from other scripts apart', () => {
    expect(foldName('Аlice')).not.toBe(foldName('Alice')); // Cyrillic А
  });

  it.each([
    ['', 'lobby'],
    ['  Lobby ', 'lobby'],
    ['team-1_a', 'team-1_a'],
    ['-dash', null],
    ['has space', null],
    ['a'.repeat(32), 'a'.repeat(32)],
    ['a'.repeat(33), null],
    ['\u212Ax', null], // Kelvin sign: lower-cases to "kx", but the server refuses it
    ['\u0130', null], // dotted capital I
  ])('room %j becomes %j', (input, want) => {
    expect(normalizeRoom(input)).toBe(want);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(codePoints('héllo')).toBe(5);
    expect(codePoints('👋🏽')).toBe(2);
    expect('👋🏽'.length).toBe(4);
  });
});

describe('the frame kinds of the one definition (contract/protocol.go, protocol.gen.ts)', () => {
  it.each(FRAME_KINDS)('parseFrame knows the kind %s (a frame of it is read, not refused as unknown)', (kind) => {
    const r = parseFrame(JSON.stringify({ type: kind }));
    expect(r.ok ? '' : r.reason).not.toMatch(/unknown frame type/);
  });

  // An example of every field the definition lists for a kind or a shape.
  function example(fields: readonly FieldSpec[], into: Record<string, unknown>): Record<string, unknown> {
    for (const f of fields) {
      const one = (): unknown => {
        switch (f.base) {
          case 'string':
            return `${f.name}-value`;
          case 'number':
            return 7;
          case 'shape':
            return example(SHAPE_FIELDS[f.of ?? ''], {});
          case 'frame':
            return example(FRAME_FIELDS[f.of as FrameKindName], { type: f.of });
        }
      };
      into[f.name] = f.list ? [one(), one()] : one();
    }
    return into;
  }

  it.each(FRAME_KINDS)('parseFrame reads every field the definition lists for %s', (kind) => {
    const frame = example(FRAME_FIELDS[kind], { type: kind });
    expect(parseFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });

  it.each(FRAME_KINDS)('parseFrame refuses a %s frame without a required field, naming it', (kind) => {
    for (const f of FRAME_FIELDS[kind].filter((f) => f.required)) {
      const frame = example(FRAME_FIELDS[kind], { type: kind });
      delete frame[f.name];
      const r = parseFrame(JSON.stringify(frame));
      expect(r.ok ? '' : r.reason).toContain(`"${f.name}"`);
    }
  });

  it('the page names actions by the generated Action, never as a string of its own', () => {
    const dir = new URL('../src/', import.meta.url);
    const spelled: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'protocol.gen.ts')) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      for (const m of text.matchAll(/action\s*(?:[!=]==|:)\s*['"`]([^'"`]*)/g)) spelled.push(`${file}: ${m[0]}`);
    }
    expect(spelled).toEqual([]);
  });

  it('a kind the definition lacks is refused as unknown', () => {
    expect(parseFrame('{"type":"reaction"}')).toEqual({ ok: false, reason: 'unknown frame type "reaction"' });
  });
});
