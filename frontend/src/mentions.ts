// Mentions (issue 26 #3): which messages mention you, by the server's
// reading of them (a public frame's `mentions`: a page never decides it from
// the text, so nobody can fake one), and the `@name` being typed that the
// composer offers to complete from the member list.

import { foldName, type PrivateFrame, type PublicFrame } from './protocol';
import type { Me } from './sender';

/** How many names the completion list offers at most. */
export const MENTION_CHOICES = 8;

/** Whether the server marked the message as mentioning you: by account with sign-in (a name changes hands), else by name. */
export function mentionsMe(f: PublicFrame | PrivateFrame, me: Me): boolean {
  if (f.type !== 'public' || f.removed) return false;
  return (f.mentions ?? []).some((m) =>
    me.account !== undefined ? m.account === me.account : m.account === undefined && foldName(m.name) === foldName(me.name),
  );
}

/** The `@name` being typed: where its `@` is, and what follows it up to the caret. */
export interface MentionQuery {
  start: number;
  query: string;
}

/**
 * The `@` mention the caret is in, if any: an `@` at the start of the text or
 * after a space (so "a@b.c" is none), followed by at most maxChars characters
 * of one line up to the caret. A name may hold spaces, so the query may too.
 */
export function mentionQuery(text: string, caret: number, maxChars: number): MentionQuery | null {
  const before = text.slice(0, caret);
  for (let i = before.length - 1; i >= 0 && before.length - i <= maxChars + 1; i--) {
    const c = before[i];
    if (c === '\n') return null;
    if (c === '@' && (i === 0 || /\s/.test(before[i - 1]))) return { start: i, query: before.slice(i + 1) };
  }
  return null;
}

/** The names that start with the query (case and width folded), yours left out, at most MENTION_CHOICES. */
export function mentionChoices(names: readonly string[], query: string, you: string): string[] {
  const q = foldName(query);
  const me = foldName(you);
  return names.filter((n) => foldName(n) !== me && foldName(n).startsWith(q)).slice(0, MENTION_CHOICES);
}

/** The text with the mention at q replaced by `@name ` and where the caret goes after it. */
export function completeMention(text: string, caret: number, q: MentionQuery, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  const after = text.slice(caret).replace(/^ /, '');
  return { text: text.slice(0, q.start) + inserted + after, caret: q.start + inserted.length };
}
