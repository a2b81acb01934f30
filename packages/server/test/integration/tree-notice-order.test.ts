import { afterAll, describe, expect, it } from 'vitest';
import { TandemClient, type ShardSession } from '@tandem/client-sdk';
import type { ShardId, TreeChange } from '@tandem/protocol';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { budgetMs } from '../support/time-budget.js';
import { waitFor } from '../support/wait-for.js';
import { Faults } from '../../src/faults/index.js';

/**
 * `tree:changed` notices of different instances travel through Redis apart and may reach a
 * client out of version order (docs/protocol.md §8): a CI model run saw a create's notice reach
 * two clients after the folder delete that followed it, and both kept showing the file the
 * server had deleted. Here the instance holds one notice back (a test-only fault) while the next
 * operation's goes out, then lets it go: every client must end with the server's tree. The
 * watching client waits long for missing versions, so no rejoin re-reads the tree meanwhile.
 */
describe('tree notices out of version order', () => {
  const faults = new Faults(() => {
    throw new Error('this test crashes nothing');
  });
  const t = useTandem({ faults });
  const paths = (s: ShardSession) => s.tree().map((f) => f.path);
  const watchers: TandemClient[] = [];

  afterAll(async () => {
    await Promise.all(watchers.map((c) => c.close()));
  });

  /** A session that does not rejoin over a missing version for a minute (protocol §8 "Gaps"). */
  async function watch(shardId: ShardId): Promise<ShardSession> {
    const client = new TandemClient({ url: t.url(), token: await adminToken(), gapWaitMs: 60_000 });
    watchers.push(client);
    return client.join(shardId);
  }

  /** The tree notices a session hears from now on. */
  function heard(session: ShardSession): TreeChange[] {
    const changes: TreeChange[] = [];
    session.on('tree', (_tree, change) => {
      if (change !== null) changes.push(change);
    });
    return changes;
  }

  /** Runs `first` with its notice held, then `second`; lets the held notice go once `second`'s arrived. */
  async function reorder(watcher: TreeChange[], first: () => Promise<unknown>, second: () => Promise<unknown>) {
    const release = faults.holdNextTreeNotice();
    let done: Promise<unknown> = Promise.resolve();
    try {
      await first();
      expect(watcher).toEqual([]);
      done = second();
      await waitFor(() => watcher.length === 1, budgetMs(2_500), "the second operation's notice");
    } finally {
      release();
      await done;
    }
    await waitFor(() => watcher.length === 2, budgetMs(2_500), 'the held notice');
  }

  it('keeps a file deleted whose create notice arrives after the deletion', async () => {
    const shardId = await createShard(t.url(), 'static');
    const alice = await t.session(shardId);
    const watcher = await watch(shardId);
    const changes = heard(watcher);
    await reorder(
      changes,
      () => alice.createFile('late/one.js', '// one\n'),
      () => alice.delete('late'),
    );
    expect(changes.map((c) => c.kind)).toEqual(['deleted', 'created']);
    const server = paths(await t.session(shardId));
    expect(server).not.toContain('late/one.js');
    expect(paths(watcher)).toEqual(server);
    expect(paths(alice)).toEqual(server);
  });

  it('leaves a file where the newer of two renames put it', async () => {
    const shardId = await createShard(t.url(), 'static');
    const alice = await t.session(shardId);
    const watcher = await watch(shardId);
    const changes = heard(watcher);
    await reorder(
      changes,
      () => alice.rename('script.js', 'first.js'),
      () => alice.rename('first.js', 'src/second.js'),
    );
    expect(changes.map((c) => (c.kind === 'renamed' ? c.moves[0]?.to : c.kind))).toEqual(['src/second.js', 'first.js']);
    const server = paths(await t.session(shardId));
    expect(server).toContain('src/second.js');
    expect(paths(watcher)).toEqual(server);
    expect(paths(alice)).toEqual(server);
  });
});
