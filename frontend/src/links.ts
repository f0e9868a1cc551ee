// Links in messages: http(s) URLs become links that open in a new tab, and
// nothing else in a message is ever interpreted (docs/frontend.md, *Links*).
// linkify-it finds the URLs (with the punctuation and brackets a sentence
// puts around them left out); only the http: and https: schemes are on, and
// nothing without a scheme is a link ("example.com" stays text). The log puts
// every piece on the page with textContent, and a link's href with
// setAttribute after the URL parser read it back: no piece is ever HTML.
import { LinkifyIt } from 'linkify-it';

/** A run of a message: plain text, or a link (its text as written, its href as the URL parser reads it). */
export type Piece = { text: string } | { text: string; href: string };

const finder = new LinkifyIt({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false }).add('ftp:', null).add('mailto:', null).add('//', null);

/** The message in order, as text and links; an empty message is none. */
export function linkPieces(message: string): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const m of finder.match(message) ?? []) {
    const href = BIDI_CONTROL.test(m.text) ? null : safeHref(m.url);
    if (href === null) continue; // the text stays text, with what follows
    if (m.index > at) out.push({ text: message.slice(at, m.index) });
    out.push({ text: message.slice(m.index, m.lastIndex), href });
    at = m.lastIndex;
  }
  if (at < message.length) out.push({ text: message.slice(at) });
  return mergeText(out);
}

/**
 * The characters that reorder text around them (an override such as U+202E shows "…/gnp.exe" as "…/exe.png"):
 * a URL holding one is no link, since its text could show another address than it opens. A link is set apart
 * from an override around it by its own direction (the log's `dir="ltr"` on it isolates it).
 */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

/** The URL as the browser's parser reads it, if it is http(s); else null. */
function safeHref(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function mergeText(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && !('href' in last) && !('href' in p)) out[out.length - 1] = { text: last.text + p.text };
    else out.push(p);
  }
  return out;
}
