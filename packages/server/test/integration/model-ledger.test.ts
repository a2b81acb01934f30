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

  it('explains a file absent at a "saved" by a deletion heard only later, if that sync covered it', () => {
    const ledger = new Ledger();
    // c2 creates the file at version 13 (acknowledged); c0 deletes it at version 26 on an
    // instance that dies before broadcasting or acknowledging the deletion.
    const { stamps } = ledger.recordChange(
      { kind: 'created', file: { id: FILE, path: 'a.txt' } },
      13,
      'ack c2',
      'op-c2',
    );
    // c2 says saved at a database read synced up to 27 that lacks the file: nobody reported the
    // deletion yet, so the read cannot be explained now.
    const heardBy = ledger.mark();
    expect(ledger.showsBySync(FILE, null, stamps[0]!, 27, heardBy)).toBe(false);
    // c0 replays its deletion after reconnecting and hears the version it was stored at.
    ledger.recordChange({ kind: 'deleted', files: [{ id: FILE, path: 'a.txt' }] }, 26, 'ack c0', 'op-c0');
    expect(ledger.showsBySync(FILE, null, stamps[0]!, 27, heardBy)).toBe(true);
    expect(ledger.deletedBySync(FILE, 27, heardBy)).toBe(true);
    // A read synced only up to 25 cannot have been missing the file because of it.
    expect(ledger.showsBySync(FILE, null, stamps[0]!, 25, heardBy)).toBe(false);
    expect(ledger.deletedBySync(FILE, 25, heardBy)).toBe(false);
    // Judged with everything heard (the final check), the deletion counts whatever the sync.
    expect(ledger.shows(FILE, null, stamps[0]!)).toBe(true);
  });
});
