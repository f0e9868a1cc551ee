// The GroupChat wire protocol (docs/protocol.md) for the page, and a parser
// that turns one text frame from the server into a checked value. The page
// trusts nothing it did not check here: a frame of the wrong shape is
// reported, never half-rendered. Every frame type, the actions, error codes and
// frame kinds, and the field lists the parser checks come from the protocol's
// one definition (contract/protocol.go) through protocol.gen.ts,
// protocol.types.gen.ts and protocol.requests.gen.ts.

import { FRAME_FIELDS, SHAPE_FIELDS, type FieldSpec } from './protocol.gen';
import type { Limits, ServerFrame } from './protocol.types.gen';

export * from './protocol.gen';
export type * from './protocol.types.gen';
export type * from './protocol.requests.gen';

/** The largest room whose members hear every join and leave by name (docs/protocol.md). */
export const PRESENCE_LIVE_MAX = 20;

export type ParseResult = { ok: true; frame: ServerFrame } | { ok: false; reason: string };

type Obj = Record<string, unknown>;

class FrameError extends Error {}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FrameError(`${what} is not an object`);
  return v as Obj;
}

function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/** A default's copy: a parsed frame never shares a list with the definition. */
function copyOf(v: unknown): unknown {
  if (Array.isArray(v)) return [...v];
  if (typeof v === 'object' && v !== null) return { ...v };
  return v;
}

/**
 * Reads the fields of o into into. A field that is absent is left out (so
 * that a parsed frame compares equal to the frame the server meant: no
 * "ref: undefined" keys), or refused when required; one with a default reads
 * as it when absent or null. Unknown fields are ignored.
 */
function readFields(o: Obj, fields: readonly FieldSpec[], into: Obj): Obj {
  for (const f of fields) {
    const v = o[f.name];
    if (f.default !== undefined && (v === undefined || v === null)) {
      into[f.name] = copyOf(f.default);
    } else if (v !== undefined || f.required) {
      into[f.name] = f.list ? readList(v, f) : readValue(v, f, `"${f.name}"`);
    }
  }
  return into;
}

function readList(v: unknown, f: FieldSpec): unknown[] {
  if (f.base === 'string') {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new FrameError(`"${f.name}" is not a list of strings`);
    return [...v];
  }
  if (!Array.isArray(v)) throw new FrameError(`"${f.name}" is not a list`);
  return v.map((e) => readValue(e, f, `an entry of "${f.name}"`));
}

function readValue(v: unknown, f: FieldSpec, what: string): unknown {
  switch (f.base) {
    case 'string':
      if (typeof v !== 'string') throw new FrameError(`${what} is not a string`);
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new FrameError(`${what} is not a number`);
      return v;
    case 'shape':
      return readFields(obj(v, what), own(SHAPE_FIELDS, f.of ?? '') ?? [], {});
    case 'frame': {
      // A frame inside a frame (a state's history): of the field's kind.
      const o = obj(v, what);
      if (o.type !== undefined && o.type !== f.of) throw new FrameError(`${what} is not a ${f.of} frame`);
      return readFields(o, own(FRAME_FIELDS, f.of ?? '') ?? [], { type: f.of });
    }
  }
}

function parseObject(o: Obj): ServerFrame {
  const type = o.type;
  if (typeof type !== 'string') throw new FrameError('"type" is not a string');
  const fields = own(FRAME_FIELDS, type);
  if (fields === undefined) throw new FrameError(`unknown frame type "${type}"`);
  return readFields(o, fields, { type }) as unknown as ServerFrame;
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

/**
 * Why a name is too long, or null when it fits, as the server counts it
 * (docs/protocol.md, Limits): as typed (trimmed and composed, NFC) and as
 * prepared (NFKC, which the server's PRECIS preparation applies: "ǅ" is
 * "Dž", "㎒" is "MHz"), each at most nameMax characters and nameMaxBytes
 * bytes; the prepared form is what everyone sees. Whatever else the server
 * refuses (a look-alike, mixed scripts) it says itself.
 */
export function nameTooLong(name: string, limits: Pick<Limits, 'nameMax' | 'nameMaxBytes'>): string | null {
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  const fits = (s: string) => codePoints(s) <= limits.nameMax && bytes(s) <= limits.nameMaxBytes;
  const typed = name.trim().normalize('NFC');
  const bound = `Names are at most ${limits.nameMax} characters (${limits.nameMaxBytes} bytes)`;
  if (!fits(typed)) return `${bound}.`;
  const prepared = typed.normalize('NFKC').trim();
  if (!fits(prepared)) {
    return `${bound} written out in their standard form, where "ǅ" is "Dž" and "㎒" is "MHz": this one is ${codePoints(prepared)} characters (${bytes(prepared)} bytes) written out.`;
  }
  return null;
}

/**
 * The name box's maxlength: counted in UTF-16 code units, which are never
 * more than a composed name's bytes of UTF-8, so nameMaxBytes never cuts a
 * name the server takes (nameMax would: 31 letters and an emoji are 32
 * characters but 33 units).
 */
export function nameInputMaxLength(limits: Pick<Limits, 'nameMaxBytes'>): number {
  return limits.nameMaxBytes;
}
