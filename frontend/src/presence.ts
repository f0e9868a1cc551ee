// Who is in the room, from presence frames that may arrive out of order.
// API Gateway runs each action as its own invocation, so the `left` of Ann's
// dropped connection can arrive after the `joined` of her reconnect. The
// server orders the presence of one name by ts (docs/protocol.md): a frame's
// ts is taken after the claim it announces and before the release it
// announces. So the page remembers, per name (folded as the server folds
// names), the last claim or release it applied, and applies a frame's part
// for a name only when it is newer. A signed-in person's joined and left
// also carry v, the version of the account's devices the server decided
// them at: of those, one is applied only when its v is greater than the
// last applied for the account, and then v, not ts, orders it against that
// account's earlier joined or left (a left decided before a reload's joined
// but delivered after it does not drop her). Pure: the member list
// (members.ts) keeps the value and shows it.

import { foldName, type JoinedFrame, type LeftFrame, type MembersFrame, type RenamedFrame, type StateFrame } from './protocol';

/** The last claim (here) or release (not here) applied for one name. */
interface Mark {
  readonly ts: number;
  readonly here: boolean;
  /** The account and v of a signed-in person's joined or left. */
  readonly account?: string;
  readonly v?: number;
}

export interface Presence {
  /** Who is in: the name as shown, by folded name. */
  readonly members: ReadonlyMap<string, string>;
  /** The last claim or release applied, by folded name. */
  readonly last: ReadonlyMap<string, Mark>;
  /** The greatest v applied, by account (absent: none yet). */
  readonly versions?: ReadonlyMap<string, number>;
}

/**
 * The parts of the presence frames the rule reads. `settled` is the list of
 * the state the client asks for again a little after connecting (the settle
 * hello, client.ts).
 */
export type PresenceFrame =
  | Pick<StateFrame, 'type' | 'members'>
  | { type: 'settled'; members: string[] }
  | (Pick<JoinedFrame, 'type' | 'name' | 'ts'> & Partial<Pick<JoinedFrame, 'account' | 'v' | 'username'>>)
  | (Pick<LeftFrame, 'type' | 'name' | 'ts'> & Partial<Pick<LeftFrame, 'account' | 'v' | 'username'>>)
  | (Pick<RenamedFrame, 'type' | 'oldName' | 'name' | 'ts'> & Partial<Pick<RenamedFrame, 'username'>>)
  | (Pick<MembersFrame, 'type' | 'members' | 'ts'> & Partial<Pick<MembersFrame, 'left' | 'stayed'>>);

/** Nobody, and nothing remembered: before the first state. */
export const NO_PRESENCE: Presence = { members: new Map(), last: new Map() };

/** The names in, in no particular order. */
export function presentNames(p: Presence): string[] {
  return [...p.members.values()];
}

/**
 * Applies one presence frame:
 * - `state` is the whole list at a moment of its own (it has no ts): it
 *   replaces the list and forgets what was remembered;
 * - `joined` claims its name, `left` releases it;
 * - `renamed` releases the old name and claims the new one, each part on its
 *   own; a change of case only is one name, claimed in its new spelling;
 * - `members` (after stale connections were removed) applies each of its
 *   `left` entries as a `left`, and each of its `stayed` entries (a person
 *   still in on another device) as a `joined`; its list is read from the
 *   lagging index and
 *   is not followed (from a server before `left`: the whole list again,
 *   except for names with a claim or release newer than its ts, see
 *   fromList).
 * - `settled` is the whole list again, read once the room index caught up
 *   with the joins around our own, except for every name a frame since the
 *   state claimed or released: it has no ts, and the index may still lag
 *   behind such a frame. It adds whom the state and the frames missed, and
 *   remembers nothing itself.
 * At an equal ts being there wins: a name freed and taken again within one
 * millisecond is possible, a claim and the release of that same claim are not.
 */
export function applyPresence(p: Presence, f: PresenceFrame): Presence {
  switch (f.type) {
    case 'state':
      return { members: byFold(f.members), last: new Map() };
    case 'joined':
      return markVersioned(p, f.name, f.ts, true, f.account, f.v);
    case 'left':
      return markVersioned(p, f.name, f.ts, false, f.account, f.v);
    case 'renamed':
      if (f.oldName === f.name) return p; // the answer to a no-op setName announces nothing
      if (foldName(f.oldName) === foldName(f.name)) return mark(p, f.name, f.ts, true);
      return mark(mark(p, f.oldName, f.ts, false), f.name, f.ts, true);
    case 'members':
      if (f.left === undefined) return fromList(p, f.members, f.ts); // a server before left
      return (f.stayed ?? []).reduce(
        (q, j) => markVersioned(q, j.name, j.ts, true, j.account, j.v),
        f.left.reduce((q, l) => markVersioned(q, l.name, l.ts, false, l.account, l.v), p),
      );
    case 'settled':
      return fromList(p, f.members, -Infinity);
  }
}

/** A claim or release at ts for name, if newer than the last one applied for it. */
function mark(p: Presence, name: string, ts: number, here: boolean): Presence {
  return markVersioned(p, name, ts, here, undefined, undefined);
}

/**
 * mark for a joined or left that may carry a person's account and v: a v not
 * greater than the account's last is not applied; a greater one is, whatever
 * the ts, over that account's earlier joined or left (a frame without v is
 * ordered by ts as before: old servers send none).
 */
function markVersioned(
  p: Presence,
  name: string,
  ts: number,
  here: boolean,
  account: string | undefined,
  v: number | undefined,
): Presence {
  const key = foldName(name);
  let last = p.last.get(key);
  let versions = p.versions;
  if (account !== undefined && v !== undefined && v > 0) {
    if (v <= (versions?.get(account) ?? 0)) return p;
    versions = new Map(versions).set(account, v);
    if (last?.account === account && last.v !== undefined) last = undefined; // ordered by v
  }
  if (last && (ts < last.ts || (ts === last.ts && (last.here || !here)))) return versions === p.versions ? p : { ...p, versions };
  const members = new Map(p.members);
  if (here) members.set(key, name);
  else members.delete(key);
  const m: Mark = account !== undefined && v !== undefined ? { ts, here, account, v } : { ts, here };
  return { members, last: new Map(p.last).set(key, m), versions };
}

/**
 * A members frame's list, read before its ts: a name claimed at or after the
 * ts stays (as shown), a name released after it is not brought back, every
 * other name is in exactly when listed. The frame leaves the memory alone:
 * the list is read from an index that may lag, so it is no claim or release
 * of its own, and a frame for a name that arrives later is still applied
 * against that name's last claim or release.
 */
function fromList(p: Presence, list: string[], ts: number): Presence {
  const listed = byFold(list);
  const members = new Map<string, string>();
  for (const key of new Set([...p.members.keys(), ...listed.keys()])) {
    const last = p.last.get(key);
    const shown = p.members.get(key);
    if (last?.here && last.ts >= ts && shown !== undefined) members.set(key, shown);
    else if (last && !last.here && last.ts > ts) continue;
    else {
      const name = listed.get(key);
      if (name !== undefined) members.set(key, name);
    }
  }
  return { members, last: p.last, versions: p.versions };
}

function byFold(names: string[]): Map<string, string> {
  return new Map(names.map((n) => [foldName(n), n]));
}

/**
 * Whether a count sent at cv replaces the count the page shows, sent at
 * last (0: none yet): only a greater cv does, so a count read before one
 * the page has, arriving late, is not shown. A count without cv (from a
 * server before it) always does.
 */
export function newerCount(last: number, cv: number | undefined): boolean {
  return cv === undefined || cv > last;
}

/**
 * A list read again (converge.ts), asked for when the page's memory was
 * since: every name is in exactly when listed, except the names a frame
 * applied after the read was asked for spoke of (their memory is no longer
 * since's), which stay as those frames left them: the read may have been
 * made before them. The memory stays, to order the frames still to come.
 */
export function relist(p: Presence, list: string[], since: Presence['last']): Presence {
  const listed = byFold(list);
  const members = new Map<string, string>();
  for (const key of new Set([...p.members.keys(), ...listed.keys()])) {
    const spoken = p.last.get(key) !== since.get(key);
    const name = spoken ? p.members.get(key) : listed.get(key);
    if (name !== undefined) members.set(key, name);
  }
  return { members, last: p.last, versions: p.versions };
}
