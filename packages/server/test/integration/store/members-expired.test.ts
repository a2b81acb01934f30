import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { SyncQueue } from '../../../src/sync-jobs/index.js';
import { createScheduler, createStore, type Store } from './store-harness.js';

/** The scheduler notices members that expired (their instance died) and says so once. */
describe('expired members', () => {
  let store: Store;
  let queue: SyncQueue;
  beforeAll(async () => {
    store = await createStore();
    queue = new SyncQueue(store.redis, store.prefix, store.config.jobs);
  });
  afterAll(async () => {
    await queue.close();
    await store.close();
  });

  it('inspect prunes expired members and reports how many; the scheduler calls its hook when others remain', async () => {
    const shardId = await store.seed({ 'a.js': 'a' });
    await store.cache.loader.ensureLoaded(shardId);
    await store.cache.members.add(shardId, 'live:1');
    // Two members of a dead instance whose expiry passed.
    await store.redis.zadd(store.keys(shardId).members, 1, 'dead:1', 2, 'dead:2');
    // Joins and leaves count only live members and leave the expired ones for the scheduler.
    expect(await store.cache.members.add(shardId, 'live:2')).toBe(2);
    expect(await store.cache.members.remove(shardId, 'live:2')).toBe(1);
    expect(await store.cache.members.count(shardId)).toBe(1);

    const expired: ShardId[] = [];
    const scheduler = createScheduler(store, queue, {
      evictGraceMs: 60_000,
      onMembersExpired: (id) => expired.push(id),
    });
    await scheduler.tick();
    expect(expired).toEqual([shardId]);
    const again = await store.cache.sync.inspect(shardId);
    expect(again.expiredMembers).toBe(0);
    expect(again.liveMembers).toBe(1);

    // Expired members and nobody left: no hook (nobody to tell).
    await store.cache.members.remove(shardId, 'live:1');
    await store.redis.zadd(store.keys(shardId).members, 1, 'dead:3');
    await store.redis.del(`${store.prefix}:scheduler-lock`);
    await scheduler.tick();
    expect(expired).toEqual([shardId]);
    await scheduler.close();
  });
});
