import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ShardId } from '@tandem/protocol';
import { dirtyShardsKey, instancesKey, schedulerLockKey } from '../../../src/redis/index.js';
import type { ScanSummary } from '../../../src/metrics/index.js';
import { Membership, updateToText } from '../../../src/shard-cache/index.js';
import { SyncQueue, type SyncScheduler } from '../../../src/sync-jobs/index.js';
import { createScheduler, createStore, type Store } from './store-harness.js';
import { waitFor } from '../../support/wait-for.js';
import { budgetMs } from '../../support/time-budget.js';

/**
 * The scheduler's work follows activity: a tick inspects the shards whose changes marked them and
 * the shards nobody is in, not every open shard; every open shard only on a full scan (first
 * tick as leader, an instance's death, the backstop interval).
 */
describe('scheduler scope', () => {
  let store: Store;
  let queue: SyncQueue;
  let scheduler: SyncScheduler;
  const scans: ScanSummary[] = [];
  const membersExpired: ShardId[] = [];
  beforeAll(async () => {
    store = await createStore();
    queue = new SyncQueue(store.redis, store.prefix, store.config.jobs);
    scheduler = createScheduler(store, queue, {
      onScan: (s) => scans.push(s),
      onMembersExpired: (id) => membersExpired.push(id),
    });
  });
  afterAll(async () => {
    await scheduler.close();
    await queue.close();
    await store.close();
  });

  /** One tick as leader (the lock of the previous tick is dropped). */
  async function tick(): Promise<ScanSummary> {
    await store.redis.del(schedulerLockKey(store.prefix));
    const summary = await scheduler.tick();
    if (summary === null) throw new Error('not the leader');
    return summary;
  }
  async function openWithMember(files: Record<string, string>): Promise<ShardId> {
    const shardId = await store.open(files);
    await store.cache.members.add(shardId, `someone:${shardId}`);
    return shardId;
  }
  /** Makes a file dirty behind the marks' back, as an instance that died before sending its mark. */
  async function dirtyUnmarked(shardId: ShardId, path: string): Promise<void> {
    await store.redis.zadd(store.keys(shardId).dirty, '1', String(await store.idOf(shardId, path)));
  }
  async function marked(): Promise<string[]> {
    return (await store.redis.zrange(dirtyShardsKey(store.prefix), '0', '-1')).sort();
  }

  it('an edit marks its shard; ticks see marked shards only, until a full scan', async () => {
    const edited = await openWithMember({ 'a.js': 'a' });
    const id = await store.idOf(edited, 'a.js');
    const update = updateToText(await store.cache.files.updates(edited, id), 'ab');
    await store.cache.files.appendUpdate(edited, id, update!);
    await store.cache.marks.flush();
    expect(await marked()).toEqual([edited]);

    const hidden = await openWithMember({ 'b.js': 'b' });
    await dirtyUnmarked(hidden, 'b.js');
    // The first tick as leader is a full scan: both found, and the unmarked one is marked now.
    const first = await tick();
    expect(first.dirtyShards).toBe(2);
    expect(await marked()).toEqual([edited, hidden].sort());

    // The hidden shard got synced meanwhile: the next tick drops its mark, keeps the other.
    await store.redis.del(store.keys(hidden).dirty);
    const second = await tick();
    expect(second.dirtyShards).toBe(1);
    expect(await marked()).toEqual([edited]);

    // A change nobody marked is not seen by ordinary ticks…
    const late = await openWithMember({ 'c.js': 'c' });
    await dirtyUnmarked(late, 'c.js');
    expect((await tick()).dirtyShards).toBe(1);
    // …until an instance's heartbeat entry lapses: its death triggers a full scan.
    await store.redis.hset(instancesKey(store.prefix), 'dead-instance', Date.now() - 1);
    await store.redis.hset(instancesKey(store.prefix), 'live-instance', Date.now() + 60_000);
    expect((await tick()).dirtyShards).toBe(2);
    expect(await store.redis.hkeys(instancesKey(store.prefix))).toEqual(['live-instance']);
    expect(await marked()).toEqual([edited, late].sort());
    expect(scans.length).toBeGreaterThanOrEqual(4);
  });

  it('a mark is dropped only if no change marked the shard after the scheduler read it', async () => {
    const shardId = await openWithMember({ 'd.js': 'd' });
    store.cache.marks.mark(shardId);
    await store.cache.marks.flush();
    const seen = (await store.cache.marks.list()).get(shardId)!;
    // A change arrives between the read and the unmark.
    store.cache.marks.mark(shardId);
    await store.cache.marks.flush();
    expect(await store.cache.marks.unmark([[shardId, seen]])).toBe(0);
    expect((await store.cache.marks.list()).has(shardId)).toBe(true);
    const now = (await store.cache.marks.list()).get(shardId)!;
    expect(await store.cache.marks.unmark([[shardId, now]])).toBe(1);
    expect((await store.cache.marks.list()).has(shardId)).toBe(false);
  });

  it('the heartbeat registers the instance: when it counts as dead, and its members’ lease', async () => {
    const before = Date.now();
    await store.cache.members.beatInstance();
    const { memberTtlMs, heartbeatMs } = store.config.cache;
    const [until, lease] = (await store.redis.hget(instancesKey(store.prefix), 'store-test'))!.split(':').map(Number);
    expect(lease).toBe(store.config.cache.memberLeaseMs);
    // Redis's clock, not this process's: allow a second of skew.
    expect(until).toBeGreaterThan(before + memberTtlMs + heartbeatMs - 1000);
    expect(until).toBeLessThan(Date.now() + memberTtlMs + heartbeatMs + 1000);
    // Alive: the scheduler does not take it for dead.
    expect(await store.cache.members.expireDeadInstances()).toEqual([]);
  });

  it("a dead instance's members are pruned when its heartbeat entry lapses, long before their lease ends", async () => {
    const shardId = await openWithMember({ 'e.js': 'e' });
    const dying = new Membership({
      redis: store.redis,
      keyPrefix: store.prefix,
      logger: pino({ level: 'silent' }),
      instanceId: `dying-${shardId.slice(0, 8)}`,
      memberTtlMs: 1000,
      heartbeatMs: 100,
      memberLeaseMs: 3_600_000,
    });
    const member = dying.socketMember('socket-1');
    expect(await dying.add(shardId, member)).toBe(2);
    expect(await dying.beatInstance()).toBe(true);
    // Not dead yet: ticks leave its member alone.
    await tick();
    expect(await store.cache.members.count(shardId)).toBe(2);
    // It stops beating: after its TTL and one heartbeat the entry lapses, the next tick prunes it.
    await new Promise((r) => setTimeout(r, 1300));
    await tick();
    expect(await store.cache.members.count(shardId)).toBe(1);
    expect(await store.redis.zscore(store.keys(shardId).members, member)).toBeNull();
    expect(membersExpired).toContain(shardId);
    // It was only cut off: its next beat finds its entry gone, and its members are written again
    // with a lease past the bound, which a later prune of the same death would leave alone.
    expect(await dying.beatInstance()).toBe(true);
    expect(await dying.add(shardId, member)).toBe(2);
  });

  it('the heartbeat refreshes one slice of the shards per beat when the lease is long', async () => {
    const shards = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.open({ [`f${n}.js`]: '' })));
    const heartbeatMs = 100;
    const members = new Membership({
      redis: store.redis,
      keyPrefix: store.prefix,
      logger: pino({ level: 'silent' }),
      instanceId: `slices-${shards[0]!.slice(0, 8)}`,
      memberTtlMs: 1000,
      heartbeatMs,
      // Three slices: each shard's members are refreshed every third beat.
      memberLeaseMs: 9 * heartbeatMs,
    });
    const refreshed: ShardId[][] = [];
    for (const id of shards) members.addLocal(id, members.socketMember(`s-${id}`));
    members.startHeartbeat(async (ids) => {
      refreshed.push([...ids]);
    });
    try {
      // Three beats, however long a loaded machine makes each (a fixed 3.5 beats' wait saw two).
      await waitFor(() => refreshed.length >= 3, budgetMs(5_000), 'three heartbeats');
    } finally {
      members.close();
    }
    const firstThree = refreshed.slice(0, 3);
    // Every shard in exactly one of three consecutive beats, and each of its members written.
    expect(firstThree.flat().sort()).toEqual([...shards].sort());
    for (const id of shards) {
      expect(await store.redis.zscore(store.keys(id).members, members.socketMember(`s-${id}`))).not.toBeNull();
    }
  });
});
