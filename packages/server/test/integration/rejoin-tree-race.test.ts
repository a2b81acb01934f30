import { describe, expect, it } from 'vitest';
import { useTandem } from '../support/harness.js';
import { createShard } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Found by the model-based trust test (chaos/model.ts; MODEL_SEED=408117777 showed a client
 * keeping a file every other client saw deleted). The server puts a rejoining socket in the room
 * before it reads the tree, so a tree change made meanwhile can reach the client before the join's
 * ack (docs/protocol.md §5). A first join keeps such changes (TandemClient.join applies those newer
 * than the join's version); a rejoin (after a reconnect, `shard:resync`, a NOT_JOINED) must too,
 * instead of replacing the tree with the older one the ack carries.
 */
describe('a tree change that races a rejoin', () => {
  const t = useTandem({ instances: 2 });

  it('is not undone by the tree the rejoin returns', async () => {
    const shardId = await createShard(t.url(0));
    const a = await t.session(shardId, 0);
    const b = await t.session(shardId, 1);
    for (let i = 0; i < 100; i++) {
      const path = `race/f${i}.txt`;
      await b.createFile(path);
      await waitFor(() => a.fileId(path) !== undefined, 5000, `A sees ${path} created`);
      // A rejoins (as after a reconnect) while B deletes the file; the order in which the two
      // requests leave varies, so the deletion lands at different points of the join.
      await (i % 2 === 0 ? Promise.all([a.rejoin(), b.delete(path)]) : Promise.all([b.delete(path), a.rejoin()]));
      await waitFor(() => a.fileId(path) === undefined, 2000, `A sees ${path} deleted (attempt ${i + 1})`);
    }
    expect(a.tree().some((f) => f.path.startsWith('race/'))).toBe(false);
  }, 90_000);
});
