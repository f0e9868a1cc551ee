// Who a message is from, as the page tells it: with sign-in by the sender's
// account (a name changes hands: after bob renames to bobby and mallory takes
// "bob", bob's old messages are not hers), without sign-in by name, the only
// identity there is. And names inside text are bidi-isolated, so a name or a
// message written right to left, or carrying U+202E, cannot turn the words
// around it.

/** You, as the page knows you: your name and, with sign-in, your account (the state's `account`). */
export interface Me {
  name: string;
  account?: string;
  /** With sign-in: your username (the state's `username`). */
  username?: string;
}

/** What a message says about its sender. */
export interface Sent {
  from: string;
  /** With sign-in: the sender's account. */
  account?: string;
  /** With sign-in: the sender's username. */
  username?: string;
}

/** Whether you sent it: by account when you are signed in, else by name. */
export function isMine(f: Sent, me: Me): boolean {
  if (me.account !== undefined) return f.account === me.account;
  return f.account === undefined && f.from === me.name;
}

/** What a sender's colour and grouping follow: the account with sign-in, else the name. */
export function senderKey(f: Sent): string {
  return f.account !== undefined ? `account:${f.account}` : f.from.toLowerCase();
}

const FSI = '\u2068'; // FIRST STRONG ISOLATE
const PDI = '\u2069'; // POP DIRECTIONAL ISOLATE

/**
 * A name (or any text someone else chose) put inside a sentence: isolated
 * (FSI … PDI, Unicode's bidi algorithm, UAX #9), so its direction and any
 * override or embedding it leaves open end with it.
 */
export function isolate(text: string): string {
  return FSI + text + PDI;
}

/** Splits text made with isolate into its plain runs and its isolated ones, for the page to show isolated ones as <bdi>. */
export function isolatedParts(text: string): Array<{ text: string; isolated: boolean }> {
  const parts: Array<{ text: string; isolated: boolean }> = [];
  const re = new RegExp(`${FSI}([^${PDI}]*)${PDI}`, 'g');
  let at = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > at) parts.push({ text: text.slice(at, m.index), isolated: false });
    parts.push({ text: m[1], isolated: true });
    at = m.index + m[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), isolated: false });
  return parts;
}

/**
 * The username to show beside a sender's name ("Alicia (@alice)"), or
 * undefined where it adds nothing: without sign-in, from an older server, or
 * when the name is the username (compared as the server compares names, in
 * case only).
 */
export function shownUsername(f: Sent): string | undefined {
  if (f.username === undefined || f.username === '') return undefined;
  return f.from.normalize('NFKC').toLowerCase() === f.username.normalize('NFKC').toLowerCase() ? undefined : f.username;
}

/**
 * A person named in a sentence (a joined, left or renamed line, the private
 * recipients): the name, and where it differs from the username the
 * username beside it, "Alicia (@alice)", each part bidi-isolated.
 */
export function personLabel(name: string, username?: string): string {
  const u = shownUsername({ from: name, username });
  return u === undefined ? isolate(name) : `${isolate(name)} (@${isolate(u)})`;
}

/** A member as a list tells it: a state's name (its username at the same index of `usernames`) or a memberPage's entry. */
export type Listed = string | { name: string; username?: string };

/**
 * The usernames a member list gives beside its names, as [name, username]:
 * a state's `members` with its `usernames` at the same index, or a
 * memberPage's entries. None where a list gives none ("": the name is the
 * username; a server before lists carried them).
 */
export function listedUsernames(members: readonly Listed[], usernames: readonly string[] = []): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  members.forEach((m, i) => {
    const [name, username] = typeof m === 'string' ? [m, usernames[i]] : [m.name, m.username];
    if (username !== undefined && username !== '') out.push([name, username]);
  });
  return out;
}
