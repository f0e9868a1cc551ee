// The page and the server agree on which names fit (issue 22): both read
// contract/testdata/name_lengths.json (the server's side is
// TestANameFitsAsTypedAndAsPrepared). A name is counted as typed and as
// written out in its standard form (NFKC): 32 "ǅ" are 32 characters typed but
// 64 written out ("Dž" each), and the page says so before sending it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codePoints, DEFAULT_LIMITS, nameInputMaxLength, nameTooLong } from '../src/protocol';

interface Case {
  name: string;
  fits: boolean;
  why: string;
}

const cases = JSON.parse(readFileSync(new URL('../../contract/testdata/name_lengths.json', import.meta.url), 'utf8')) as Case[];

describe('nameTooLong', () => {
  it.each(cases.map((c) => [c.why, c] as const))('%s', (_, c) => {
    expect(nameTooLong(c.name, DEFAULT_LIMITS) === null).toBe(c.fits);
  });

  it('says why 32 "ǅ" are too long: 64 characters written out', () => {
    expect(nameTooLong('\u01c5'.repeat(32), DEFAULT_LIMITS)).toContain('this one is 64 characters (96 bytes) written out');
  });

  it("the name box's maxlength cuts no name that fits", () => {
    const max = nameInputMaxLength(DEFAULT_LIMITS);
    for (const c of cases.filter((c) => c.fits)) {
      expect(c.name.trim().normalize('NFC').length, c.why).toBeLessThanOrEqual(max);
    }
    expect('a'.repeat(31) + '\u{1F600}').toHaveLength(33);
    expect(codePoints('a'.repeat(31) + '\u{1F600}')).toBe(32);
  });
});
