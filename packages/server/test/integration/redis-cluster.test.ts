import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { RedisManager } from '../../src/redis/index.js';
import { bullPrefix } from '../../src/sync-jobs/index.js';
import { createShard, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { createTestRedis, testRedisKeys, TEST_REDIS_CLUSTER_NODES } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { syncBudgetMs } from '../support/time-budget.js';

// Runs only against a cluster: `npm run test:cluster` (or TEST_REDIS_CLUSTER_NODES=… vitest …).
describe.skipIf(TEST_REDIS_CLUSTER_NODES === undefined)('on a Redis Cluster', () => {
  const t = useTandem();
  const prefix = t.prefix;
  let server: RunningApp;
  let observer: Cluster;

  beforeAll(() => {
    server = t.apps[0]!;
    observer = createTestRedis() as Cluster;
  });

  afterAll(async () => {
    await observer?.quit();
  });

  it('gives every connection role a Cluster client with the options BullMQ needs', () => {
    const manager = RedisManager.getInstance();
    expect(manager.isCluster()).toBe(true);
    const names = manager.names().filter((n) => n.startsWith(`app:${server.app.instanceId}:`));
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) {
      const connection = manager.getConnection(name);
      expect(connection, name).toBeInstanceOf(Cluster);
      expect((connection as Cluster).options.redisOptions?.maxRetriesPerRequest, name).toBeNull();
      expect((connection as Cluster).options.redisOptions?.connectionName, name).toBe(`tandem:${name}`);
    }
    expect(bullPrefix(prefix, true)).toBe(`{${prefix}}:bull`);
  });

  it('keeps each shard in one slot and the sync queue in one slot, and syncs through it', async () => {
    const shardIds: ShardId[] = [await createShard(server.url), await createShard(server.url)];
    const client = await t.client();
    try {
      for (const shardId of shardIds) {
        const session = await client.join(shardId);
        (await session.openFile('index.html')).insert(0, '<!-- on a cluster -->');
        await session.flushed();
        // The BullMQ worker (worker threads, Cluster connections) synced it to the database.
        await waitFor(
          async () =>
            (await server.app.repository.findById(shardId))?.files.some((f) =>
              f.content.startsWith('<!-- on a cluster -->'),
            ),
          syncBudgetMs(server.config),
          'sync',
        );
      }
      const keys = await testRedisKeys(observer, `*${prefix}*`);
      const slotOf = async (key: string) => Number(await observer.cluster('KEYSLOT', key));
      for (const shardId of shardIds) {
        const shardKeys = keys.filter((k) => k.includes(`{${shardId}}`));
        expect(shardKeys.length).toBeGreaterThan(3);
        expect(new Set(await Promise.all(shardKeys.map(slotOf))).size, shardId).toBe(1);
      }
      const queueKeys = keys.filter((k) => k.startsWith(`${bullPrefix(prefix, true)}:`));
      expect(queueKeys.length).toBeGreaterThan(0);
      expect(new Set(await Promise.all(queueKeys.map(slotOf))).size).toBe(1);
      // Nothing of this app was written under the standalone queue prefix.
      expect(keys.filter((k) => k.startsWith(`${bullPrefix(prefix)}:`))).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
