import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { Ledger } from '../../chaos/model.js';

const FILE = 'file-1' as FileId;
const renamed = (from: string, to: string) => ({ kind: 'renamed' as const, moves: [{ id: FILE, from, to }] });

describe('the model ledger (chaos/model.ts)', () => {
  it('orders an operation whose first ack came late (answered again by opId) where its broadcast was heard', () => {
    const ledger = new Ledger();
    ledger.recordTemplate(FILE, 'a.txt');
    // c2's rename is applied at version 10 (every member hears it); its ack is lost.
    ledger.recordChange(renamed('a.txt', 'x/a.txt'), 10, 'c2 while joining');
    ledger.recordChange(renamed('a.txt', 'x/a.txt'), 10, 'c0');
    // c4 renames the file again at version 11.
    ledger.recordChange(renamed('x/a.txt', 'y/a.txt'), 11, 'ack c4', 'op-c4');
    // c2 sends its rename again with the same opId: the server answers with the first outcome.
    const { stamps, first } = ledger.recordChange(renamed('a.txt', 'x/a.txt'), 10, 'ack c2', 'op-c2');
    expect(first).toBe(true);
    // The database holding c4's later rename shows c2's.
    expect(ledger.shows(FILE, 'y/a.txt', stamps[0]!)).toBe(true);
    expect(ledger.shows(FILE, 'a.txt', stamps[0]!)).toBe(false);
  });
});
