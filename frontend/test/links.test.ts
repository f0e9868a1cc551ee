// Links in messages (issue 26 #5): http(s) URLs become links, nothing else in a
// message is ever interpreted. linkPieces splits a message into text and links;
// the log puts each piece on the page with textContent and an href attribute.
import { describe, expect, it } from 'vitest';
import { linkPieces } from '../src/links';

const hrefs = (m: string) => linkPieces(m).flatMap((p) => ('href' in p ? [p.href] : []));
const joined = (m: string) => linkPieces(m).map((p) => p.text).join('');

describe('linkPieces', () => {
  it('finds http and https URLs and keeps the text around them', () => {
    expect(linkPieces('see https://example.com/a?b=1#c now')).toEqual([
      { text: 'see ' },
      { text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
      { text: ' now' },
    ]);
    expect(hrefs('http://x.test and https://y.test/p')).toEqual(['http://x.test/', 'https://y.test/p']);
  });

  it('leaves punctuation that ends a sentence, and brackets around the URL, outside the link', () => {
    expect(hrefs('read https://example.com/page.')).toEqual(['https://example.com/page']);
    expect(hrefs('(https://example.com/x)')).toEqual(['https://example.com/x']);
    expect(hrefs('https://en.wikipedia.org/wiki/Foo_(bar), ok')).toEqual(['https://en.wikipedia.org/wiki/Foo_(bar)']);
  });

  it('links nothing but http and https, and nothing without a scheme', () => {
    for (const m of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox',
      'file:///etc/passwd',
      'mailto:a@example.com',
      'ftp://example.com/file',
      '//example.com/protocol-relative',
      'example.com',
      'www.example.com',
      'a@example.com',
      '127.0.0.1',
    ]) expect(hrefs(m), m).toEqual([]);
  });

  it('never turns markup into anything but text', () => {
    for (const m of [
      '<img src=x onerror=alert(1)>',
      '<a href="https://evil.test">click</a>',
      '[click](https://evil.test) **bold** `code`',
      'https://example.com/"><script>alert(1)</script>',
      "https://example.com/' onmouseover='alert(1)",
      '\u202Ehttps://example.com/evil\u202C',
    ]) {
      expect(joined(m), m).toBe(m); // every character is still there, as text
      for (const h of hrefs(m)) {
        const u = new URL(h);
        expect(['http:', 'https:'], m).toContain(u.protocol);
        expect(h, m).not.toMatch(/[<>"'\s]/); // an href never carries markup or spaces
      }
    }
  });

  it('a URL holding a bidirectional control is no link: its text could show another address than it opens', () => {
    // Shown as "https://evil.test/exe.png" (the override reverses what follows it), opening …gnp.exe.
    for (const m of ['see https://evil.test/\u202Egnp.exe ok', 'https://a.test/\u200Fx', 'https://a.test/\u2067b\u2069', 'https://a.test/\u061Cx']) {
      expect(linkPieces(m), m).toEqual([{ text: m }]);
    }
  });

  it('a text without a URL is one piece, and an empty message none', () => {
    expect(linkPieces('just words')).toEqual([{ text: 'just words' }]);
    expect(linkPieces('')).toEqual([]);
  });
});
