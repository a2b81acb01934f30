import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { schedulerLockKey, syncStartsKey } from '../../../src/redis/index.js';
import { SyncQueue, syncPartitionOf, type SyncScheduler } from '../../../src/sync-jobs/index.js';
import { createScheduler, createStore, type Store } from './store-harness.js';

describe('sync pacing across scheduler leaders', () => {
  let store: Store;
  let queue: SyncQueue;
  const schedulers: SyncScheduler[] = [];
  beforeAll(async () => {
    // A scan every 2 s (a job may be given a start up to 2 s ahead), the limiter's slot 1 s.
    store = await createStore({ SYNC_INTERVAL_MS: '2000', SYNC_LIMIT_MAX: '10', SYNC_LIMIT_DURATION_MS: '10000' });
    queue = new SyncQueue(store.redis, store.prefix, store.config.jobs);
    for (let i = 0; i < 2; i++) {
      schedulers.push(createScheduler(store, queue));
    }
  });
  afterAll(async () => {
    for (const s of schedulers) await s.close();
    await queue.close();
    await store.close();
  });

  /** A shard with a member and an unsynced change, in a partition none of `others` is in. */
  async function dirtyShard(others: ShardId[]): Promise<ShardId> {
    const { concurrency } = store.config.jobs;
    for (;;) {
      const shardId = await store.open({ 'a.js': 'a' });
      if (others.some((o) => syncPartitionOf(o, concurrency) === syncPartitionOf(shardId, concurrency))) continue;
      await store.cache.members.add(shardId, `someone:${shardId}`);
      await store.redis.zadd(store.keys(shardId).dirty, '1', String(await store.idOf(shardId, 'a.js')));
      return shardId;
    }
  }

  async function tickAs(i: number): Promise<void> {
    await store.redis.del(schedulerLockKey(store.prefix));
    expect(await schedulers[i]!.tick()).not.toBeNull();
  }

  it('a new leader spaces its jobs after the starts the previous leader gave', async () => {
    const first = await dirtyShard([]);
    // No worker runs here: the jobs stay queued. Leader 0 starts the only partition with changes at once.
    await tickAs(0);
    const [started] = await queue.queue.getJobs(['waiting', 'delayed']);
    expect(started?.opts.delay ?? 0).toBe(0);
    // Leader 1 finds another partition with changes: its job starts a limiter slot (1 s) after
    // leader 0's, not at once as its own empty history would say.
    const second = await dirtyShard([first]);
    await tickAs(1);
    const jobs = await queue.queue.getJobs(['waiting', 'delayed']);
    const next = jobs.find((j) => (j.data as { shards: Array<{ shardId: ShardId }> }).shards[0]?.shardId === second);
    expect(next).toBeDefined();
    expect(next!.opts.delay ?? 0).toBeGreaterThan(500);
  });

  it('a shared pacer state that is not one is ignored: the tick still enqueues', async () => {
    await queue.queue.obliterate({ force: true });
    await store.redis.set(syncStartsKey(store.prefix), '{not json', 'PX', 60_000);
    await dirtyShard([]);
    await store.redis.del(schedulerLockKey(store.prefix));
    const summary = await schedulers[0]!.tick();
    expect(summary?.enqueuedJobs).toBeGreaterThan(0);
    expect(await queue.queue.getJobs(['waiting', 'delayed'])).not.toHaveLength(0);
  });
});
