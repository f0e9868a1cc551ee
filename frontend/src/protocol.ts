// The GroupChat wire protocol (docs/protocol.md) as TypeScript types, and a
// parser that turns one text frame from the server into a checked value. The
// page trusts nothing it did not check here: a frame of the wrong shape is
// reported, never half-rendered. The actions, error codes and frame kinds come from the
// protocol's one definition (contract/protocol.go) through protocol.gen.ts.

import { Action, FrameKind, type ActionName, type FrameKindName } from './protocol.gen';

export { Action, CUSTOM_ROUTE_ACTIONS, ErrorCode, FRAME_KINDS, FrameKind } from './protocol.gen';
export type { ActionName, ErrorCodeName, FrameKindName } from './protocol.gen';

export interface Limits {
  nameMax: number;
  /** Names are also bounded in UTF-8 bytes. */
  nameMaxBytes: number;
  messageMax: number;
  recipientsMax: number;
}

/** The bounds the protocol documents; the server's state frame overrides them. */
export const DEFAULT_LIMITS: Limits = { nameMax: 32, nameMaxBytes: 64, messageMax: 2000, recipientsMax: 20 };

export interface PublicFrame {
  type: typeof FrameKind.Public;
  id: string;
  ts: number;
  room: string;
  from: string;
  message: string;
  ref?: string;
  /** With sign-in: the sender's (subject's) account, stable across renames. */
  account?: string;
  /** With sign-in: the sender's username, shown beside a display name that differs (absent from older servers). */
  username?: string;
}

export interface PrivateFrame {
  type: typeof FrameKind.Private;
  id: string;
  ts: number;
  room: string;
  from: string;
  to: string[];
  message: string;
  ref?: string;
  /** With sign-in: the sender's (subject's) account, stable across renames. */
  account?: string;
  /** With sign-in: the sender's username, shown beside a display name that differs (absent from older servers). */
  username?: string;
}

export interface Warning {
  code: string;
  message: string;
}

export interface StateFrame {
  type: typeof FrameKind.State;
  room: string;
  you: string;
  members: string[];
  history: PublicFrame[];
  /**
   * Your own private conversation of the room, oldest first: the messages this
   * person sent or received (the same account, or the same resume token), so
   * a reload brings it back. Absent from a server that predates it.
   */
  private?: PrivateFrame[];
  limits: Limits;
  warning?: Warning;
  /** A secret for this connection: presented on reconnect (?resume=), it takes the name back at once. */
  resume?: string;
  /** The room's exact member count (absent from servers before it was kept). */
  count?: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
  /** Set when `members` is only the first page of a bigger room: the members action reads on. */
  membersCursor?: string;
  /** With sign-in: your account. */
  account?: string;
  /** With sign-in: your username (absent from older servers). */
  username?: string;
}

export interface PongFrame {
  type: typeof FrameKind.Pong;
  ts: number;
  /** The room's member count (keeps a big room's count fresh). */
  count?: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
}

export interface JoinedFrame {
  type: typeof FrameKind.Joined;
  room: string;
  name: string;
  ts: number;
  count?: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
  /** With sign-in: the sender's (subject's) account, stable across renames. */
  account?: string;
  /**
   * With sign-in: the version of the account's devices this was decided at.
   * Of a person's joined and left, only one with a greater v than the last
   * applied counts (presence.ts).
   */
  v?: number;
}

export interface LeftFrame {
  type: typeof FrameKind.Left;
  room: string;
  name: string;
  ts: number;
  count?: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
  /** With sign-in: the sender's (subject's) account, stable across renames. */
  account?: string;
  /**
   * With sign-in: the version of the account's devices this was decided at.
   * Of a person's joined and left, only one with a greater v than the last
   * applied counts (presence.ts).
   */
  v?: number;
}

/** One person a members frame names, stamped as a `left` (or, stayed, `joined`) frame would be. */
export interface LeftEntry {
  name: string;
  ts: number;
  account?: string;
  v?: number;
}

export interface MembersFrame {
  type: typeof FrameKind.Members;
  room: string;
  members: string[];
  gone: string[];
  /**
   * Each person who left, as a `left` frame (absent from servers before it):
   * the page follows these, not the list, which is read from a lagging index.
   */
  left?: LeftEntry[];
  /**
   * With sign-in: each person still in the room on another device, as a
   * `joined` frame (a page that missed her joined learns of her).
   */
  stayed?: LeftEntry[];
  ts: number;
  count?: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
}

/** A big room's member count (rooms of more than PRESENCE_LIVE_MAX hear no names). */
export interface PresenceCountFrame {
  type: typeof FrameKind.Presence;
  room: string;
  count: number;
  ts: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
}

/** A member in a member-list frame. */
export interface MemberEntry {
  name: string;
  account?: string;
}

/** One page of the member list: the answer to the members action. */
export interface MemberPageFrame {
  type: typeof FrameKind.MemberPage;
  room: string;
  count: number;
  /**
   * The count's version: of two frames of the room, the one with the greater
   * cv carries the newer count (absent from servers before it).
   */
  cv?: number;
  members: MemberEntry[];
  /** Absent on the last page. */
  cursor?: string;
  ref?: string;
}

/** The largest room whose members hear every join and leave by name (docs/protocol.md). */
export const PRESENCE_LIVE_MAX = 20;

export interface RenamedFrame {
  type: typeof FrameKind.Renamed;
  room: string;
  oldName: string;
  name: string;
  ts: number;
  ref?: string;
  /** With sign-in: the sender's (subject's) account, stable across renames. */
  account?: string;
}

export interface ErrorFrame {
  type: typeof FrameKind.Error;
  code: string;
  message: string;
  action?: string;
  unknown?: string[];
  ref?: string;
  /** rate_limited: how long until a frame will be accepted again. */
  retryAfterMs?: number;
}

export type ServerFrame =
  | StateFrame
  | PongFrame
  | JoinedFrame
  | LeftFrame
  | MembersFrame
  | PresenceCountFrame
  | MemberPageFrame
  | RenamedFrame
  | PublicFrame
  | PrivateFrame
  | ErrorFrame;

export type ClientFrame =
  | { action: typeof Action.Hello; ref?: string }
  | { action: typeof Action.Ping; ref?: string }
  | { action: typeof Action.Members; cursor?: string; ref?: string }
  | { action: typeof Action.SetName; name: string; ref?: string }
  | { action: typeof Action.SendPublic; message: string; ref?: string }
  | { action: typeof Action.SendPrivate; to: string[]; message: string; ref?: string };

// The page's frame types cover exactly the definition's actions and frame
// kinds: an action or kind added to contract/protocol.go (and generated into
// protocol.gen.ts) without its type here fails the typecheck.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const CLIENT_FRAMES_MATCH_ACTIONS: Same<ClientFrame['action'], ActionName> = true;
export const SERVER_FRAMES_MATCH_KINDS: Same<ServerFrame['type'], FrameKindName> = true;

export type ParseResult = { ok: true; frame: ServerFrame } | { ok: false; reason: string };

type Obj = Record<string, unknown>;

class FrameError extends Error {}

function str(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new FrameError(`"${key}" is not a string`);
  return v;
}

function optStr(o: Obj, key: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key);
}

function num(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FrameError(`"${key}" is not a number`);
  return v;
}

function strList(o: Obj, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new FrameError(`"${key}" is not a list of strings`);
  }
  return v as string[];
}

function optNum(o: Obj, key: string): number | undefined {
  return o[key] === undefined ? undefined : num(o, key);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FrameError(`${what} is not an object`);
  return v as Obj;
}

// Optional fields are copied only when present so that a parsed frame compares
// equal to the frame the server meant (no "ref: undefined" keys).
function withOpt<T extends object>(base: T, extra: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (base as Obj)[k] = v;
  return base;
}

function parseLeft(v: unknown): LeftEntry[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new FrameError('"left" or "stayed" is not a list');
  return v.map((e) => {
    const o = obj(e, 'a left entry');
    return withOpt<LeftEntry>({ name: str(o, 'name'), ts: num(o, 'ts') }, { account: optStr(o, 'account'), v: optNum(o, 'v') });
  });
}

function parsePublic(o: Obj): PublicFrame {
  return withOpt<PublicFrame>(
    { type: FrameKind.Public, id: str(o, 'id'), ts: num(o, 'ts'), room: str(o, 'room'), from: str(o, 'from'), message: str(o, 'message') },
    { ref: optStr(o, 'ref'), account: optStr(o, 'account'), username: optStr(o, 'username') },
  );
}

function parseLimits(v: unknown): Limits {
  if (v === undefined) return { ...DEFAULT_LIMITS };
  const o = obj(v, '"limits"');
  return {
    nameMax: num(o, 'nameMax'),
    nameMaxBytes: o.nameMaxBytes === undefined ? DEFAULT_LIMITS.nameMaxBytes : num(o, 'nameMaxBytes'),
    messageMax: num(o, 'messageMax'),
    recipientsMax: num(o, 'recipientsMax'),
  };
}

function parseObject(o: Obj): ServerFrame {
  const type = str(o, 'type');
  switch (type) {
    case FrameKind.State: {
      const history = o.history === undefined ? [] : o.history;
      if (!Array.isArray(history)) throw new FrameError('"history" is not a list');
      const own = o.private;
      if (own !== undefined && !Array.isArray(own)) throw new FrameError('"private" is not a list');
      let warning: Warning | undefined;
      if (o.warning !== undefined) {
        const w = obj(o.warning, '"warning"');
        warning = { code: str(w, 'code'), message: str(w, 'message') };
      }
      return withOpt<StateFrame>(
        {
          type,
          room: str(o, 'room'),
          you: str(o, 'you'),
          members: strList(o, 'members'),
          history: history.map((h) => parsePublic(obj(h, 'a history entry'))),
          limits: parseLimits(o.limits),
        },
        {
          warning,
          resume: optStr(o, 'resume'),
          count: optNum(o, 'count'),
          cv: optNum(o, 'cv'),
          membersCursor: optStr(o, 'membersCursor'),
          account: optStr(o, 'account'),
          username: optStr(o, 'username'),
          private: own?.map((h) => {
            const f = parseObject(obj(h, 'a private history entry'));
            if (f.type !== FrameKind.Private) throw new FrameError('a private history entry is not a private message');
            return f;
          }),
        },
      );
    }
    case FrameKind.Pong:
      return withOpt<PongFrame>({ type, ts: num(o, 'ts') }, { count: optNum(o, 'count'), cv: optNum(o, 'cv') });
    case FrameKind.Joined:
    case FrameKind.Left:
      return withOpt<JoinedFrame | LeftFrame>(
        { type, room: str(o, 'room'), name: str(o, 'name'), ts: num(o, 'ts') },
        { count: optNum(o, 'count'), cv: optNum(o, 'cv'), account: optStr(o, 'account'), v: optNum(o, 'v') },
      );
    case FrameKind.Members:
      return withOpt<MembersFrame>(
        {
          type,
          room: str(o, 'room'),
          members: strList(o, 'members'),
          gone: o.gone === undefined || o.gone === null ? [] : strList(o, 'gone'),
          ts: num(o, 'ts'),
        },
        { count: optNum(o, 'count'), cv: optNum(o, 'cv'), left: parseLeft(o.left), stayed: parseLeft(o.stayed) },
      );
    case FrameKind.Presence:
      return withOpt<PresenceCountFrame>(
        { type, room: str(o, 'room'), count: num(o, 'count'), ts: num(o, 'ts') },
        { cv: optNum(o, 'cv') },
      );
    case FrameKind.MemberPage: {
      const list = o.members;
      if (!Array.isArray(list)) throw new FrameError('"members" is not a list');
      const members = list.map((m) => {
        const e = obj(m, 'a member');
        return withOpt<MemberEntry>({ name: str(e, 'name') }, { account: optStr(e, 'account') });
      });
      return withOpt<MemberPageFrame>(
        { type, room: str(o, 'room'), count: num(o, 'count'), members },
        { cv: optNum(o, 'cv'), cursor: optStr(o, 'cursor'), ref: optStr(o, 'ref') },
      );
    }
    case FrameKind.Renamed:
      return withOpt<RenamedFrame>(
        { type, room: str(o, 'room'), oldName: str(o, 'oldName'), name: str(o, 'name'), ts: num(o, 'ts') },
        { ref: optStr(o, 'ref'), account: optStr(o, 'account') },
      );
    case FrameKind.Public:
      return parsePublic(o);
    case FrameKind.Private:
      return withOpt<PrivateFrame>(
        {
          type,
          id: str(o, 'id'),
          ts: num(o, 'ts'),
          room: str(o, 'room'),
          from: str(o, 'from'),
          to: strList(o, 'to'),
          message: str(o, 'message'),
        },
        { ref: optStr(o, 'ref'), account: optStr(o, 'account'), username: optStr(o, 'username') },
      );
    case FrameKind.Error:
      return withOpt<ErrorFrame>(
        { type, code: str(o, 'code'), message: str(o, 'message') },
        {
          action: optStr(o, 'action'),
          unknown: o.unknown === undefined ? undefined : strList(o, 'unknown'),
          ref: optStr(o, 'ref'),
          retryAfterMs: optNum(o, 'retryAfterMs'),
        },
      );
    default:
      throw new FrameError(`unknown frame type "${type}"`);
  }
}

/** Parses one text frame from the server. Unknown fields are ignored. */
export function parseFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  try {
    return { ok: true, frame: parseObject(obj(value, 'the frame')) };
  } catch (e) {
    if (e instanceof FrameError) return { ok: false, reason: e.message };
    throw e;
  }
}

/**
 * Names compare like the server compares them (lambda/chat/validate.go Fold):
 * NFKC normalisation, then Unicode case folding, so that "Alice", "ALICE" and
 * fullwidth "Ａｌｉｃｅ" are one name. JavaScript has no case folding;
 * toLowerCase is the closest, and the two differences that matter for names
 * are mended by hand: folding turns ß (and ẞ, which lower-cases to ß) into
 * "ss", and final ς into σ (toLowerCase even makes a final Σ into ς).
 */
export function foldName(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');
}

/** Sorts names case-insensitively, the order the server sends members in. */
export function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => {
    const fa = foldName(a);
    const fb = foldName(b);
    return fa < fb ? -1 : fa > fb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * The room rule of the handshake: 1–32 of a-z 0-9 _ -, starting with a letter or digit; only ASCII
 * letters are lower-cased (the server refuses a room that only Unicode case mapping makes valid,
 * such as the Kelvin sign K or a dotted capital I).
 */
export function normalizeRoom(room: string): string | null {
  const r = room.trim() || 'lobby';
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(r) ? r.toLowerCase() : null;
}

/** Counts Unicode code points, the unit of the server's message bound. */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
