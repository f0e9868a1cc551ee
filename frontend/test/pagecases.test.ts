// The shared table of frame sequences (internal/testkit/chattest/testdata/
// pagecases.json), run through the page's own rules: presence.ts (the
// list), newerCount and members.ts's count rule (the count), converge.ts
// (whether the page reads its list again). The Go test
// TestThePageModelKeepsTheSharedTable runs the same table through the
// randomized checker's page model (internal/testkit/chattest/page.go), a copy
// made by hand: a change to one without the other fails one of the two.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RETRIES_MAX, wantsRead } from '../src/converge';
import { applyPresence, newerCount, NO_PRESENCE, presentNames, relist, type Presence } from '../src/presence';
import type { MemberFrame } from '../src/members';

interface Step {
  apply?: MemberFrame | { type: 'pong' | 'presence'; count?: number; cv?: number };
  settle?: { type: 'state'; members: string[]; count?: number; cv?: number };
  ask?: boolean;
  relist?: { members: Array<{ name: string }>; count: number; cv?: number };
}
interface Case {
  name: string;
  steps: Step[];
  names: string[];
  count: number | null;
  rereads: boolean;
}

const table = JSON.parse(
  readFileSync(new URL('../../internal/testkit/chattest/testdata/pagecases.json', import.meta.url), 'utf8'),
) as { relistTries: number; cases: Case[] };

/** A small room's page: members.ts's apply, counted and relisted, without the DOM. */
class Page {
  presence: Presence = NO_PRESENCE;
  total: number | null = null;
  cv = 0;
  exact = false;
  since: Presence['last'] | null = null;

  private take(count: number, cv: number | undefined): boolean {
    if (!newerCount(this.cv, cv)) return false;
    this.total = count;
    if (cv !== undefined) this.cv = cv;
    return true;
  }

  apply(f: MemberFrame): void {
    if (f.type === 'state') {
      this.total = f.count ?? f.members.length;
      this.cv = f.cv ?? 0;
      this.exact = f.count !== undefined;
    } else if (f.count !== undefined && (f.type !== 'settled' || f.cv !== undefined)) {
      this.take(f.count, f.cv);
    }
    this.presence = applyPresence(this.presence, f);
    if ((f.type === 'state' || f.type === 'settled') && !this.exact && f.cv === undefined) {
      this.total = Math.max(this.total ?? 0, this.presence.members.size);
    }
  }

  step(s: Step): void {
    if (s.apply !== undefined) {
      const f = s.apply;
      if (f.type === 'pong' || f.type === 'presence') {
        if (f.count !== undefined) this.take(f.count, f.cv);
      } else this.apply(f as MemberFrame);
    } else if (s.settle !== undefined) {
      this.apply({ type: 'settled', members: s.settle.members, count: s.settle.count, cv: s.settle.cv });
    } else if (s.ask) {
      this.since = this.presence.last;
    } else if (s.relist !== undefined) {
      if (this.since === null) throw new Error('a members answer the page did not ask for');
      this.take(s.relist.count, s.relist.cv);
      this.presence = relist(this.presence, s.relist.members.map((m) => m.name), this.since);
      this.since = null;
    } else throw new Error('a step that does nothing');
  }
}

describe('the page keeps the shared table of frame sequences (as the Go page model does)', () => {
  it('reads its list again as many times as the model', () => {
    expect(table.relistTries).toBe(RETRIES_MAX);
    expect(table.cases.length).toBeGreaterThan(0);
  });

  it.each(table.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const p = new Page();
    for (const s of c.steps) p.step(s);
    expect(presentNames(p.presence).sort()).toEqual(c.names);
    expect(p.total).toBe(c.count);
    const view = { count: p.total, cv: p.cv, listCv: p.cv, listed: p.presence.members.size, big: false, whole: true };
    expect(wantsRead(view, 0)).toBe(c.rereads);
  });
});
