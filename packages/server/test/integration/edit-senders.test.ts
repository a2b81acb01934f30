import { describe, expect, it } from 'vitest';
import { createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { budgetMs } from '../support/time-budget.js';
import { waitFor } from '../support/wait-for.js';
import { Faults } from '../../src/faults/index.js';

/**
 * Edits of one sender to a file are checked and stored one after another (the next keystroke
 * builds on the previous one); edits of different senders do not wait for each other
 * (shards/edit-gate.ts). With one chain per file, every collaborator's keystroke waited for the
 * others' Redis round trips, and a busy file's edits queued for up to a second under load.
 */
describe('edits of several senders to one file', () => {
  const faults = new Faults(() => {
    throw new Error('this test crashes nothing');
  });
  const t = useTandem({ faults });

  it("do not wait for each other: one held before its store does not delay another sender's", async () => {
    const shardId = await createShard(t.url(), 'static');
    const alice = await t.session(shardId);
    const bob = await t.session(shardId);
    const watcher = await t.session(shardId);
    const a = await alice.openFile('script.js');
    const b = await bob.openFile('script.js');
    const seen = await watcher.openFile('script.js');
    const original = seen.toString();

    const release = faults.holdNextEdit();
    try {
      a.insert(0, '// alice\n');
      await waitFor(() => faults.holdingEdit, budgetMs(2_500), "alice's edit held before its store");
      b.insert(b.length, '// bob\n');
      await waitFor(() => seen.toString() === `${original}// bob\n`, budgetMs(2_500), "bob's edit, past alice's");
      expect(faults.holdingEdit).toBe(true);
      // Bob's next keystroke builds on his first: his own edits stay in order.
      b.insert(b.length, '// bob again\n');
      await waitFor(
        () => seen.toString() === `${original}// bob\n// bob again\n`,
        budgetMs(2_500),
        "bob's second edit",
      );
    } finally {
      release();
    }
    const expected = `// alice\n${original}// bob\n// bob again\n`;
    await waitFor(
      () => [a, b, seen].every((text) => text.toString() === expected),
      budgetMs(2_500),
      'everyone converges',
    );
    await Promise.all([alice.flushed(budgetMs(5_000)), bob.flushed(budgetMs(5_000))]);
  });
});
