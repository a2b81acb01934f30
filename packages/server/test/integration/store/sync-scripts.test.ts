import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileId, ShardId } from '@tandem/protocol';
import { emptySinceKey, openShardsKey } from '../../../src/redis/index.js';
import { mergeToState, updateToText, type CompactEntry, type ShardSnapshot } from '../../../src/shard-cache/index.js';
import { ShardScripts } from '../../../src/shard-cache/scripts.js';
import { testRedisKeys } from '../../support/services.js';
import { createStore, type Store } from './store-harness.js';

/** Every branch of the snapshot, compact, evict, inspect, membership and unlock scripts, against real Redis. */
describe('sync scripts', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore();
  });
  afterAll(async () => {
    await store.close();
  });

  const open = (files: Record<string, string>) => store.open(files);
  const idOf = (shardId: ShardId, path: string) => store.idOf(shardId, path);
  async function type(shardId: ShardId, id: FileId, text: string): Promise<number> {
    const update = updateToText(await store.cache.files.updates(shardId, id), text);
    if (update === null) throw new Error('no change');
    return store.cache.files.appendUpdate(shardId, id, update);
  }
  /** What a sync compacts after writing this snapshot (as sync-shard.ts builds it). */
  function entriesOf(snapshot: ShardSnapshot): CompactEntry[] {
    return snapshot.files.map((f) => ({
      id: f.id,
      version: f.version,
      gen: f.gen,
      count: f.updates.length,
      state: f.path === null ? new Uint8Array(0) : mergeToState(f.updates).state,
    }));
  }
  function compact(shardId: ShardId, snapshot: ShardSnapshot, entries = entriesOf(snapshot), timeMs = 12_345) {
    return store.cache.sync.compact(shardId, { loadId: snapshot.loadId, version: snapshot.version, timeMs }, entries);
  }
  async function shardKeysLeft(shardId: ShardId): Promise<string[]> {
    return testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`);
  }

  describe('snapshot', () => {
    it('reads nothing from a shard that is not loaded', async () => {
      const shardId = await store.seed({ 'a.js': 'a' });
      expect(await store.cache.sync.snapshot(shardId)).toEqual({
        loaded: false,
        version: 0,
        firstDirtyAt: null,
        loadId: '',
        ops: [],
        files: [],
      });
    });

    it('reads the clock, the load id and every dirty file (deleted ones without a path) with its updates', async () => {
      const shardId = await open({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
      const a = await idOf(shardId, 'a.js');
      const b = await idOf(shardId, 'b.js');
      const va = await type(shardId, a, 'ab');
      const deleted = await store.cache.files.delete(shardId, 'b.js', { opId: 'snapshot-delete' });
      const snapshot = await store.cache.sync.snapshot(shardId);
      expect(snapshot.loaded).toBe(true);
      // The delete's reply is pending (its tree was not written through here): the sync takes it.
      expect(snapshot.ops.map((op) => [op.opId, JSON.parse(op.reply).v])).toEqual([
        ['snapshot-delete', String(deleted.version)],
      ]);
      expect(snapshot.version).toBe(deleted.version);
      expect(snapshot.loadId).toBe(await store.redis.hget(store.keys(shardId).meta, 'loadId'));
      expect(snapshot.firstDirtyAt).toBeGreaterThan(0);
      expect(snapshot.files.map((f) => [f.id, f.version, f.path, f.gen, f.updates.length])).toEqual([
        [a, va, 'a.js', '0', 2],
        [b, deleted.version, null, '0', 1],
      ]);
    });
  });

  describe('compact', () => {
    it('trims what the sync wrote to one merged state, keeps later updates and later dirty marks', async () => {
      const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
      const k = store.keys(shardId);
      const a = await idOf(shardId, 'a.js');
      const b = await idOf(shardId, 'b.js');
      await type(shardId, a, 'a1');
      await type(shardId, a, 'a12');
      await type(shardId, b, 'b1');
      const snapshot = await store.cache.sync.snapshot(shardId);
      // An edit after the snapshot: it stays, and keeps the file dirty.
      const later = await type(shardId, a, 'a123');
      expect(await compact(shardId, snapshot)).toEqual({ kind: 'compacted', dirtyLeft: 1 });
      const listA = await store.cache.files.updates(shardId, a);
      expect(listA).toHaveLength(2);
      expect(await store.redis.hget(k.gen, a)).toBe('1');
      expect(Number(await store.redis.hget(k.docbytes, a))).toBe(listA[0]!.byteLength + listA[1]!.byteLength);
      expect(Number(await store.redis.zscore(k.dirty, a))).toBe(later);
      expect(await store.cache.files.updates(shardId, b)).toHaveLength(1);
      expect(await store.redis.zscore(k.dirty, b)).toBeNull();
      // Something left dirty: the oldest unsynced change is no older than the snapshot.
      expect(await store.redis.hget(k.meta, 'firstDirtyAt')).toBe('12345');
    });

    it('drops the update list of a deleted file, and clears the first dirty time when nothing is left', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const k = store.keys(shardId);
      const a = await idOf(shardId, 'a.js');
      await type(shardId, a, 'ab');
      await store.cache.files.delete(shardId, 'a.js');
      const snapshot = await store.cache.sync.snapshot(shardId);
      expect(await compact(shardId, snapshot)).toEqual({ kind: 'compacted', dirtyLeft: 0 });
      expect(await store.redis.exists(k.doc(a))).toBe(0);
      expect(await store.redis.hexists(k.docbytes, a)).toBe(0);
      expect(await store.redis.hexists(k.meta, 'firstDirtyAt')).toBe(0);
    });

    it('does not trim a file another compaction already trimmed (generation changed), but clears what was written', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const k = store.keys(shardId);
      const a = await idOf(shardId, 'a.js');
      await type(shardId, a, 'ab');
      const snapshot = await store.cache.sync.snapshot(shardId);
      await store.redis.hset(k.gen, a, '7');
      expect(await compact(shardId, snapshot)).toEqual({ kind: 'compacted', dirtyLeft: 0 });
      expect(await store.redis.llen(k.doc(a))).toBe(2);
      expect(await store.redis.hget(k.gen, a)).toBe('7');
    });

    it('a shard no longer cached: stale, and nothing is written; while a load holds the lock: loading', async () => {
      const shardId = await open({ 'a.js': 'a' });
      await type(shardId, await idOf(shardId, 'a.js'), 'ab');
      const snapshot = await store.cache.sync.snapshot(shardId);
      for (const key of await shardKeysLeft(shardId)) await store.redis.del(key);
      await store.redis.set(store.keys(shardId).lock, 'someone', 'PX', 10_000);
      expect(await compact(shardId, snapshot)).toEqual({ kind: 'loading' });
      await store.redis.del(store.keys(shardId).lock);
      expect(await compact(shardId, snapshot)).toEqual({ kind: 'stale' });
      expect(await shardKeysLeft(shardId)).toEqual([]);
    });

    it('a shard loaded again since the snapshot: moves the clock past the commit, appends the merged states, re-marks every file dirty', async () => {
      const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
      const k = store.keys(shardId);
      const a = await idOf(shardId, 'a.js');
      const b = await idOf(shardId, 'b.js');
      await type(shardId, a, 'a1');
      await type(shardId, a, 'a12');
      const snapshot = await store.cache.sync.snapshot(shardId);
      // Redis loses the shard; it is loaded again from the database (which lacks the edits: the
      // sync commits after this load read it), by a Redis whose clock is behind (a failover), so
      // the new run's clock starts below the snapshot's (a load's clock starts at the Redis time,
      // lua/populate.lua: otherwise above it), and a client restores an edit to b at a low version.
      for (const key of await shardKeysLeft(shardId)) await store.redis.del(key);
      await store.cache.loader.ensureLoaded(shardId);
      await store.redis.set(k.seq, snapshot.version - 100);
      const restored = await type(shardId, b, 'b1');
      expect(restored).toBeLessThanOrEqual(snapshot.version);

      expect(await compact(shardId, snapshot)).toEqual({ kind: 'stale' });
      const clock = await store.cache.files.version(shardId);
      expect(clock).toBeGreaterThan(snapshot.version);
      // a: the snapshot's merged state appended to the new load's list.
      expect(await store.redis.llen(k.doc(a))).toBe(2);
      // Both re-marked dirty above the committed watermark, so the next sync writes them.
      expect(Number(await store.redis.zscore(k.dirty, a))).toBeGreaterThan(snapshot.version);
      expect(Number(await store.redis.zscore(k.dirty, b))).toBeGreaterThan(snapshot.version);
      expect(await store.redis.hexists(k.meta, 'firstDirtyAt')).toBe(1);
    });
  });

  describe('evict', () => {
    it('refuses while anyone is in the shard, anything is dirty, or a load holds the lock', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const k = store.keys(shardId);
      await store.cache.members.add(shardId, 'x:1');
      expect(await store.cache.sync.evict(shardId)).toBe('MEMBERS');
      await store.cache.members.remove(shardId, 'x:1');
      await type(shardId, await idOf(shardId, 'a.js'), 'ab');
      expect(await store.cache.sync.evict(shardId)).toBe('DIRTY');
      await store.redis.del(k.dirty);
      await store.redis.set(k.lock, 'someone', 'PX', 10_000);
      expect(await store.cache.sync.evict(shardId)).toBe('LOCKED');
      await store.redis.del(k.lock);
      expect((await shardKeysLeft(shardId)).length).toBeGreaterThan(0);
    });

    it('deletes every key of the shard (deleted files’ lists and op ids too) and forgets it was open or empty', async () => {
      const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
      const k = store.keys(shardId);
      await store.cache.files.delete(shardId, 'b.js', { opId: 'evict-op-1' });
      await store.redis.del(k.dirty);
      await store.cache.members.noteEmpty(shardId, 1);
      // Only an expired member left: pruned, not counted.
      await store.redis.zadd(k.members, 1, 'dead:1');
      expect(await store.cache.sync.evict(shardId)).toBe('EVICTED');
      expect(await shardKeysLeft(shardId)).toEqual([]);
      expect(await store.redis.zscore(openShardsKey(store.prefix), shardId)).toBeNull();
      expect(await store.redis.zscore(emptySinceKey(store.prefix), shardId)).toBeNull();
    });
  });

  describe('inspect', () => {
    it('reports the scheduler view in one step', async () => {
      const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
      const k = store.keys(shardId);
      const a = await idOf(shardId, 'a.js');
      await type(shardId, a, 'ab');
      await type(shardId, a, 'abc');
      await store.cache.members.add(shardId, 'x:1');
      await store.redis.zadd(k.members, 1, 'dead:1');
      await store.redis.set(k.lock, 'someone', 'PX', 10_000);
      const seen = await store.cache.sync.inspect(shardId);
      expect(seen).toEqual({
        loaded: true,
        firstDirtyAt: Number(await store.redis.hget(k.meta, 'firstDirtyAt')),
        dirtyFiles: 1,
        liveMembers: 1,
        locked: true,
        unsyncedUpdates: 2,
        unsyncedBytes: Number(await store.redis.hget(k.docbytes, a)),
        expiredMembers: 1,
      });
      await store.redis.del(k.lock);
      const none = await store.cache.sync.inspect(await store.seed({ 'c.js': '' }));
      expect(none).toMatchObject({ loaded: false, firstDirtyAt: null, dirtyFiles: 0, liveMembers: 0, locked: false });
    });
  });

  describe('membership and unlock', () => {
    it('counts live members only, removes, refreshes and re-adds members Redis lost', async () => {
      const shardId = await store.seed({ 'a.js': '' });
      const k = store.keys(shardId);
      await store.redis.zadd(k.members, 1, 'dead:1');
      expect(await store.cache.members.add(shardId, 'i:1')).toBe(1);
      expect(await store.cache.members.add(shardId, 'i:2')).toBe(2);
      expect(await store.cache.members.remove(shardId, 'i:1')).toBe(1);
      expect(await store.cache.members.count(shardId)).toBe(1);
      store.cache.members.addLocal(shardId, 'i:2');
      store.cache.members.addLocal(shardId, 'i:3');
      const before = Number(await store.redis.zscore(k.members, 'i:2'));
      await store.redis.zrem(k.members, 'i:2');
      await store.cache.members.refreshLocal();
      expect(Number(await store.redis.zscore(k.members, 'i:2'))).toBeGreaterThanOrEqual(before);
      expect(await store.cache.members.count(shardId)).toBe(2);
      expect(store.cache.members.localShards()).toContain(shardId);
      store.cache.members.removeLocal(shardId, 'i:2');
      store.cache.members.removeLocal(shardId, 'i:3');
      expect(store.cache.members.localShards()).not.toContain(shardId);
    });

    it('releases the lock only for its owner', async () => {
      const shardId = await store.seed({ 'a.js': '' });
      const lock = store.keys(shardId).lock;
      await store.redis.set(lock, 'mine');
      const run = new ShardScripts(store.redis);
      expect(await run.unlock(lock, { token: 'theirs' })).toBe(false);
      expect(await store.redis.get(lock)).toBe('mine');
      expect(await run.unlock(lock, { token: 'mine' })).toBe(true);
      expect(await store.redis.exists(lock)).toBe(0);
    });
  });
});
