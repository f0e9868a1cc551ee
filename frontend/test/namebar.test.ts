// The rename form stays open until the server agreed: a refused name (say
// name_taken) keeps it open with what was typed.
import { describe, expect, it } from 'vitest';
import { renameOutcome } from '../src/namebar';

describe('renameOutcome', () => {
  it('closes the form only when the rename is done', () => {
    expect(renameOutcome('done')).toBe('close');
    expect(renameOutcome('failed')).toBe('stay-open');
    expect(renameOutcome('unconfirmed')).toBe('stay-open');
    expect(renameOutcome('sent')).toBe('wait');
    expect(renameOutcome('queued')).toBe('wait');
  });
});
