// Editing (issue 26 #2): the page offers Edit on your own message while the
// server allows it, 15 minutes after sending by the server's definition.
import { describe, expect, it } from 'vitest';
import { EDIT_WINDOW_MS } from '../src/protocol.gen';
import { editable } from '../src/editing';

describe('editable', () => {
  it('is the 15 minutes after sending, as the server allows', () => {
    expect(EDIT_WINDOW_MS).toBe(15 * 60 * 1000);
    const sent = 1_000_000;
    expect(editable(sent, sent)).toBe(true);
    expect(editable(sent, sent + EDIT_WINDOW_MS - 1)).toBe(true);
    expect(editable(sent, sent + EDIT_WINDOW_MS)).toBe(false);
  });
});
