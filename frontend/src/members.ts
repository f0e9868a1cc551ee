// The member list and the private recipients chosen from it: a checkbox per
// member (but not for you) picks who the next message goes to privately, and
// the composer's "to" line says so. The heading shows the room's count.
//
// A small room (up to PRESENCE_LIVE_MAX) names every join and leave: who is
// in follows those frames by the rule of presence.ts. A bigger room only
// tells its count (docs/protocol.md, presence): the list shows the first
// names the state gave, and the search box reads the whole list from the
// server, a page at a time, when someone looks for a member. At most
// SHOWN_MAX rows are ever on the page, however big the room.
//
// The count is the one of the greatest cv (the count's version) the page
// was sent: frames of different actions race (docs/protocol.md, cv), and a
// newcomer may miss the frames sent before the room index listed it, which
// its settle hello's count then makes up for.
//
// Both converge on the server's (converge.ts): a big room's page asks for
// the count on a period, and the first page of the list is read again when
// the count moved on since the list was read (big room), or when the whole
// list and the count disagree.

import { Converger, type ListView } from './converge';
import { byId, el, nameHue } from './dom';
import { isolatedParts, listedUsernames, personLabel, shownUsername } from './sender';
import { applyPresence, newerCount, NO_PRESENCE, presentNames, relist, type Presence, type PresenceFrame } from './presence';
import {
  foldName,
  PRESENCE_LIVE_MAX,
  sortNames,
  type ClientFrame,
  type MemberPageFrame,
} from './protocol';
import { Action } from './protocol.gen';

/** The most member rows on the page at once. */
export const SHOWN_MAX = 50;
/** The search box shows from this many members on. */
const SEARCH_FROM = 10;
/** A list read for a search is read again after this long. */
const DIRECTORY_MAX_AGE_MS = 30_000;
/** The ref of the list reads converge.ts asks for (their answers and errors are told apart by it). */
export const LIST_REF = 'member-list';

/** A frame the member list follows: presence, with the counts (and their cv) the server adds. */
export type MemberFrame = PresenceFrame & { count?: number; cv?: number; membersCursor?: string; usernames?: string[] };

export class MemberList {
  private readonly list = byId<HTMLUListElement>('members');
  private readonly count = byId('member-count');
  private readonly search = byId<HTMLInputElement>('member-search');
  private readonly more = byId('member-more');
  private readonly toText = byId('to-text');
  private readonly toClear = byId<HTMLButtonElement>('to-clear');
  private readonly composer = byId<HTMLFormElement>('composer');
  private presence: Presence = NO_PRESENCE;
  /** The names in presence, sorted as shown. */
  private members: string[] = [];
  /** Chosen private recipients, keyed by folded name. */
  private readonly selected = new Map<string, string>();
  /**
   * With sign-in, the usernames of members as frames told them (joined,
   * renamed, a members frame's entries, messages, and the lists read from
   * the room index: a state's usernames, a memberPage's entries), by folded
   * name: shown beside a name that differs. A name no longer listed is
   * forgotten, so a name that changes hands never shows its last holder's.
   */
  private readonly usernames = new Map<string, string>();
  /** The room's count as the server last said it; null before any. */
  private total: number | null = null;
  /** The cv of that count; 0 before any, or from a server before cv. */
  private cv = 0;
  /** The server counts the room exactly (it sent a count): the list never corrects it. */
  private exact = false;
  /** A big room: names are not announced, the list is read on demand. */
  private big = false;
  /** The whole list read with the members action (big rooms), by folded name. */
  private directory: Map<string, string> | null = null;
  private reading: Map<string, string> | null = null;
  /** The usernames the pages being read gave (listedUsernames). */
  private readUsernames: Array<[string, string]> = [];
  private readAt = 0;
  /** The cv of the count the list was last read at (state, settle, a read of converge.ts). */
  private listCv = 0;
  /** The list read was the whole room (no further page), or is followed from frames. */
  private whole = true;
  /** The list is not the room's: the room just became small again, and the list was a big room's. */
  private stale = false;
  /** The memory of presence when the pending list read was asked for. */
  private readSince: Presence['last'] | null = null;
  private readonly converger = new Converger({
    view: () => this.view(),
    read: () => this.readList(),
    poll: () => this.ask({ action: Action.Ping }),
  });

  /**
   * you gives the name to mark "you"; cleared is called when the user sends
   * to everyone again; ask sends a members request (false: not connected);
   * namesChanged is called after the list is drawn again (the `@` list follows it);
   * departed is told whom a read of a small room's list (the settle state,
   * or converge.ts's) took off it with no frame saying they left: their
   * `left` went out while the room index did not list this connection yet,
   * so the page says they left when it learns it.
   */
  constructor(
    private readonly you: () => string,
    cleared: () => void,
    private readonly ask: (f: ClientFrame) => boolean = () => false,
    private readonly namesChanged: () => void = () => {},
    private readonly departed: (people: Array<{ name: string; username?: string }>) => void = () => {},
  ) {
    this.list.addEventListener('change', (e) => {
      const box = e.target as HTMLInputElement;
      const name = box.dataset.name;
      if (name === undefined) return;
      if (box.checked) this.selected.set(foldName(name), name);
      else this.selected.delete(foldName(name));
      this.renderRecipients();
    });
    this.toClear.addEventListener('click', () => {
      this.selected.clear();
      this.renderMembers();
      this.renderRecipients();
      cleared();
    });
    this.search.addEventListener('focus', () => this.readIfStale());
    this.search.addEventListener('input', () => {
      this.readIfStale();
      this.renderMembers();
    });
  }

  /** A moderator's controls for a member's row (moderation.ts); none when it returns null. */
  decorate?: (name: string) => HTMLElement | null;

  /** Draws the list again (the controls changed: roles, or an account learnt). */
  refresh(): void {
    this.renderMembers();
  }

  /** Who the next message goes to privately; empty: to everyone. */
  recipients(): string[] {
    return [...this.selected.values()];
  }

  /** How many are in the room, as the page shows it. */
  get shownCount(): number {
    return this.total ?? this.members.length;
  }

  /** Empties the list and the choice (a room is joined). */
  reset(): void {
    this.presence = NO_PRESENCE;
    this.members = [];
    this.selected.clear();
    this.usernames.clear();
    this.total = null;
    this.cv = 0;
    this.exact = false;
    this.big = false;
    this.directory = this.reading = null;
    this.listCv = 0;
    this.whole = true;
    this.stale = false;
    this.readSince = null;
    this.converger.stop();
    this.search.value = '';
    this.renderMembers();
    this.renderRecipients();
  }

  /**
   * A presence frame, applied by the rule of presence.ts (per name, only what
   * is newer than the last applied). People no longer in the list are no
   * longer recipients; a rename keeps its holder chosen.
   */
  apply(f: MemberFrame): void {
    if (f.type === 'state') {
      this.total = f.count ?? f.members.length;
      this.cv = f.cv ?? 0;
      this.exact = f.count !== undefined;
      this.big = f.membersCursor !== undefined || this.total > PRESENCE_LIVE_MAX;
      this.directory = null;
      this.listCv = this.cv;
      this.whole = f.membersCursor === undefined;
      this.stale = false;
      this.readSince = null;
      this.converger.stop(); // a new connection: no read of the last one is answered
    } else if (f.count !== undefined && (f.type !== 'settled' || f.cv !== undefined) && this.take(f.count, f.cv)) {
      // (A settle count without cv, from a server before it, may be older
      // than the frames since: the state's count stays.)
      if (f.type !== 'settled') this.sized(f.count);
    }
    if (f.type === 'settled' && f.cv !== undefined && !this.stale) this.listCv = Math.max(this.listCv, f.cv);
    const next = applyPresence(this.presence, f);
    if (f.type === 'renamed') this.follow(f.oldName, f.name, next);
    const gone = f.type === 'settled' ? this.takenOff(this.presence, next) : [];
    this.presence = next;
    if (f.type === 'state') {
      this.usernames.clear();
      this.remember(listedUsernames(f.members, f.usernames));
    }
    if (f.type === 'joined' || f.type === 'renamed') this.learn(f.name, f.username);
    if (f.type === 'members') for (const j of f.stayed ?? []) this.learn(j.name, j.username);
    this.forgetGone();
    this.members = sortNames(presentNames(next));
    if (!this.big) for (const k of [...this.selected.keys()]) if (!next.members.has(k)) this.selected.delete(k);
    // A server before counts: the list is all there is. The list is read
    // from a lagging index, so a counted room keeps its exact count.
    if ((f.type === 'state' || f.type === 'settled') && !this.exact && f.cv === undefined) {
      this.total = Math.max(this.total ?? 0, this.members.length);
    }
    this.renderMembers();
    this.renderRecipients();
    this.converger.changed();
    if (gone.length) this.departed(gone);
  }

  /**
   * Whom next no longer lists of before's names, but you, with their
   * usernames (before they are forgotten); none in a big room, whose
   * changes are not named, when the list was a big room's (stale), or when
   * the read disagrees with the room's exact count: a read of a lagging
   * index can miss someone who is there, and "left" would be a lie.
   */
  private takenOff(before: Presence, next: Presence): Array<{ name: string; username?: string }> {
    if (this.big || this.stale || (this.exact && this.total !== next.members.size)) return [];
    const me = foldName(this.you());
    return [...before.members]
      .filter(([k]) => k !== me && !next.members.has(k))
      .map(([k, name]) => ({ name, ...(this.usernames.has(k) ? { username: this.usernames.get(k) } : {}) }));
  }

  /** The room's count, from a presence frame or a pong. */
  counted(count: number, cv?: number): void {
    if (this.take(count, cv)) {
      this.sized(count);
      this.renderMembers();
    }
    this.converger.changed();
  }

  /**
   * A count taken: a room that grew past PRESENCE_LIVE_MAX no longer names
   * its changes (its list is read, not followed); one that became small
   * again names every change from now on: its list, a big room's, is read
   * once (converge.ts), then followed.
   */
  private sized(count: number): void {
    if (!this.big && count > PRESENCE_LIVE_MAX) {
      this.big = true;
    } else if (this.big && count <= PRESENCE_LIVE_MAX) {
      this.big = false;
      this.directory = null;
      this.stale = true;
    }
  }

  /** With sign-in: name's username, as a frame (or a message) told it; kept while the name is listed. */
  learn(name: string, username: string | undefined): void {
    if (username === undefined || username === '') return;
    const key = foldName(name);
    if (!this.presence.members.has(key) && !this.directory?.has(key)) return;
    this.usernames.set(key, username);
    this.renderMembers();
    this.renderRecipients();
  }

  /**
   * The usernames a list read from the room index gives (listedUsernames):
   * a settle state's, a memberPage's. Kept for the names listed.
   */
  learnListed(pairs: Array<[string, string]>): void {
    this.remember(pairs);
    this.renderMembers();
    this.renderRecipients();
  }

  private remember(pairs: Array<[string, string]>): void {
    for (const [name, username] of pairs) {
      const key = foldName(name);
      if (this.presence.members.has(key) || this.directory?.has(key)) this.usernames.set(key, username);
    }
  }

  /** Forgets the usernames of names no longer listed. */
  private forgetGone(): void {
    for (const k of [...this.usernames.keys()]) {
      if (!this.presence.members.has(k) && !this.directory?.has(k)) this.usernames.delete(k);
    }
  }

  /** A name as the list and the recipients show it: with the username beside it where it differs. */
  private label(name: string): string {
    return personLabel(name, this.usernames.get(foldName(name)));
  }

  /** A list read of converge.ts failed (an error frame with its ref): the rule is applied again. */
  listFailed(): void {
    this.readSince = null;
    this.converger.answered();
  }

  /** The list and count as converge.ts reads them. */
  private view(): ListView {
    return {
      count: this.total,
      cv: this.cv,
      listCv: this.stale ? -1 : this.listCv,
      listed: this.members.length,
      big: this.big || this.stale,
      whole: this.whole,
    };
  }

  /** Asks for the first page of the list (converge.ts). */
  private readList(): boolean {
    if (!this.ask({ action: Action.Members, ref: LIST_REF })) return false;
    this.readSince = this.presence.last;
    return true;
  }

  /**
   * The first page of the list, read again: it is the list now, but for the
   * names a frame spoke of since it was asked for (presence.ts, relist).
   */
  private relisted(f: MemberPageFrame): void {
    const since = this.readSince;
    if (since === null) return; // asked for on an earlier connection
    this.readSince = null;
    this.take(f.count, f.cv);
    this.sized(f.count);
    const names = f.members.map((m) => m.name);
    const next = relist(this.presence, names, since);
    const gone = this.takenOff(this.presence, next);
    this.presence = next;
    this.members = sortNames(presentNames(this.presence));
    this.forgetGone();
    this.remember(listedUsernames(f.members));
    this.listCv = f.cv ?? this.cv;
    this.stale = false;
    this.whole = f.cursor === undefined;
    if (this.big) {
      if (this.whole) {
        this.directory = new Map(names.map((n) => [foldName(n), n]));
        this.readAt = Date.now();
      } else {
        this.readAt = 0; // the next search reads every page again
      }
    }
    if (!this.big) for (const k of [...this.selected.keys()]) if (!this.presence.members.has(k)) this.selected.delete(k);
    this.renderMembers();
    this.renderRecipients();
    this.converger.answered();
    if (gone.length) this.departed(gone);
  }

  /**
   * Takes a count sent at cv, unless the page has one of a cv as great: an
   * older count that arrives late is not shown. A count without cv (a
   * server before it) is taken as it comes.
   */
  private take(count: number, cv: number | undefined): boolean {
    if (!newerCount(this.cv, cv)) return false;
    this.total = count;
    if (cv !== undefined) this.cv = cv;
    return true;
  }

  /** A page of the member list: kept, and the next one asked for. */
  page(f: MemberPageFrame): void {
    if (f.ref === LIST_REF) {
      this.relisted(f);
      return;
    }
    if (this.reading === null) return; // not asked for (or the room changed)
    this.take(f.count, f.cv);
    for (const m of f.members) this.reading.set(foldName(m.name), m.name);
    this.readUsernames.push(...listedUsernames(f.members));
    if (f.cursor !== undefined && this.ask({ action: Action.Members, cursor: f.cursor })) return;
    const names = [...this.reading.values()];
    this.reading = null;
    this.readAt = Date.now();
    if (this.big) {
      this.directory = new Map(names.map((n) => [foldName(n), n]));
    } else {
      // Small again: the list read now, followed by joined and left.
      this.presence = applyPresence(NO_PRESENCE, { type: 'state', members: names });
      this.members = sortNames(presentNames(this.presence));
    }
    this.remember(this.readUsernames);
    this.readUsernames = [];
    this.renderMembers();
  }

  private readIfStale(): void {
    if (!this.big || this.reading !== null) return;
    if (this.directory !== null && Date.now() - this.readAt < DIRECTORY_MAX_AGE_MS) return;
    this.read();
  }

  private read(): void {
    this.reading = new Map();
    this.readUsernames = [];
    if (!this.ask({ action: Action.Members })) this.reading = null;
  }

  /**
   * Moves the choice of oldName to name, unless the old name is still in the
   * list: then someone took it after the rename, and the choice stays with
   * the name the user sees.
   */
  private follow(oldName: string, name: string, next: Presence): void {
    const from = foldName(oldName);
    const to = foldName(name);
    const shown = next.members.get(to);
    if (!this.selected.has(from) || shown === undefined || (from !== to && next.members.has(from))) return;
    this.selected.delete(from);
    this.selected.set(to, shown);
  }

  /** The names the page knows in the room (an `@` completes from them). */
  names(): string[] {
    return this.known();
  }

  /** The names to choose from: the list followed, or in a big room the one read. */
  private known(): string[] {
    if (this.big && this.directory !== null) return sortNames(this.directory.values());
    return this.members;
  }

  private renderMembers(): void {
    const you = this.you();
    const total = this.shownCount;
    const query = foldName(this.search.value.trim());
    const known = this.known();
    const matching = query === '' ? known : known.filter((n) => foldName(n).includes(query));
    const shown = matching.slice(0, SHOWN_MAX);
    const items = shown.map((name) => {
      const isYou = name === you;
      const label = el('label', { class: 'member-label' });
      if (!isYou) {
        const box = el('input', { attrs: { type: 'checkbox', 'aria-label': `Message ${name} privately` } });
        box.dataset.name = name;
        box.checked = this.selected.has(foldName(name));
        label.append(box);
      } else {
        label.append(el('span', { class: 'box-spacer', attrs: { 'aria-hidden': 'true' } }));
      }
      const nameEl = el('span', { class: 'member-name', text: name });
      nameEl.style.setProperty('--hue', String(nameHue(name)));
      label.append(nameEl);
      const username = shownUsername({ from: name, username: this.usernames.get(foldName(name)) });
      if (username !== undefined) {
        label.append(el('span', { class: 'username member-username' }, ' (@', el('bdi', { text: username }), ')'));
      }
      if (isYou) label.append(el('span', { class: 'you-tag', text: 'you' }));
      const controls = isYou ? null : (this.decorate?.(name) ?? null);
      const li = el('li', { class: isYou ? 'member is-you' : 'member' }, label, ...(controls ? [controls] : []));
      li.dataset.name = name;
      return li;
    });
    this.list.replaceChildren(...items);
    this.count.textContent = total ? String(total) : '';
    this.search.hidden = total < SEARCH_FROM && !this.big;
    this.more.textContent = this.moreText(query, shown.length, matching.length, total);
    this.more.hidden = this.more.textContent === '';
    this.namesChanged();
  }

  private moreText(query: string, shown: number, matching: number, total: number): string {
    if (this.reading !== null) return 'Reading the member list…';
    if (query !== '') {
      if (matching === 0) return 'Nobody by that name.';
      return shown < matching ? `${shown} of ${matching} matches shown: type more of the name.` : '';
    }
    if (shown < total) return `${shown} of ${total} shown: search to find anyone.`;
    return '';
  }

  private renderRecipients(): void {
    const to = this.recipients();
    this.toText.replaceChildren(
      ...(to.length ? isolatedParts(`Privately to ${to.map((n) => this.label(n)).join(', ')}`) : [{ text: 'To everyone', isolated: false }]).map(
        (p) => (p.isolated ? el('bdi', { text: p.text }) : document.createTextNode(p.text)),
      ),
    );
    this.toText.classList.toggle('private', to.length > 0);
    this.toClear.hidden = to.length === 0;
    this.composer.classList.toggle('private', to.length > 0);
  }
}
