import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { Ledger, traceFor } from '../../chaos/model.js';

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

  it('explains a file absent from a read whose tree was written through at or after a deletion heard only later', () => {
    // The case of CI seed 1080654501: c4's create is acknowledged at version 40; c0's deletion is
    // stored at 52 while its broadcast and ack are lost (c0 replays it later). Another client's
    // rename at 53 writes the whole live tree through (tree_version 53), deletion included, while
    // the last sync is at 45. c4 says saved at that read: the file is absent, and rightly so.
    const ledger = new Ledger();
    const { stamps } = ledger.recordChange(
      { kind: 'created', file: { id: FILE, path: 'a.txt' } },
      40,
      'ack c4',
      'op-c4',
    );
    const heardBy = ledger.mark();
    ledger.recordChange({ kind: 'deleted', files: [{ id: FILE, path: 'a.txt' }] }, 52, 'ack c0', 'op-c0');
    // Judged by the last sync alone (45), the absence is unexplained: what the model did before.
    expect(ledger.showsBySync(FILE, null, stamps[0]!, 45, heardBy)).toBe(false);
    // The tree written through at 53 covers the deletion.
    expect(ledger.showsBySync(FILE, null, stamps[0]!, 53, heardBy)).toBe(true);
    expect(ledger.deletedBySync(FILE, 53, heardBy)).toBe(true);
  });

  it('orders an operation first reported by a late ack before a later operation reported first, by version', () => {
    // The case of seed 1108561055 (under load): c3 renames the file at version 47; nobody hears the
    // rename broadcast (the room learns it from rejoins' trees) and its ack is held up. c5 deletes
    // the renamed file at version 54, heard by c5 and c1. Then c3's rename ack arrives.
    const ledger = new Ledger();
    ledger.recordChange({ kind: 'created', file: { id: FILE, path: 'a.txt' } }, 40, 'c5');
    ledger.recordChange({ kind: 'deleted', files: [{ id: FILE, path: 'x/a.txt' }] }, 54, 'c5');
    const { stamps } = ledger.recordChange(renamed('a.txt', 'x/a.txt'), 47, 'ack c3', 'op-c3');
    // The database without the file shows c3's rename: the deletion was stored after it.
    expect(ledger.shows(FILE, null, stamps[0]!, Infinity, 47)).toBe(true);
    // By report order alone it would not (what the model did before).
    expect(ledger.shows(FILE, null, stamps[0]!)).toBe(false);
    // A deletion stored before the rename does not explain the file's absence.
    const other = new Ledger();
    other.recordChange({ kind: 'deleted', files: [{ id: FILE, path: 'a.txt' }] }, 45, 'c5');
    const late = other.recordChange(renamed('a.txt', 'x/a.txt'), 47, 'ack c3', 'op-c3');
    expect(other.shows(FILE, null, late.stamps[0]!, Infinity, 47)).toBe(false);
  });

  it('a failure report keeps the log and the trace lines about the files and clients its samples name', () => {
    const lines = [
      '10 api-1 started',
      '20 · op c1 delete public/favicon.svg',
      '30 · op c2 rename src/a.js → src/b.js',
      '40 · heard c3 v7 {"kind":"deleted","files":[{"id":"NYChAhfu2y_rbKlB","path":"public/favicon.svg"}]}',
      '50 · saved-check c1 lastSync=7',
      '60 · status c2 saved',
      '62 · ack c1 shard:join v9 clock=abc:7 lastSync=7',
      '64 · status c12 live',
      '70 model: FLUSHALL',
    ];
    const samples = [
      'false saved: client 1 said saved; missing acked tree op on NYChAhfu2y_rbKlB (database: public/favicon.svg)',
    ];
    expect(traceFor(lines, samples)).toEqual([lines[0], lines[1], lines[3], lines[4], lines[6], lines[8]]);
    expect(traceFor(lines, samples, true)).toEqual(lines);
  });
});
