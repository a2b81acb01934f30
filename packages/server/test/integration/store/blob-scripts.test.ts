import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { syncShard, type SyncShardDeps } from '../../../src/sync-jobs/index.js';
import { testRedisKeys } from '../../support/services.js';
import { createStore, type Store } from './store-harness.js';

/**
 * Binary files in the shard cache against real Redis and SQLite: put-blob.lua, and how the sync
 * scripts (snapshot, compact in its normal and stale branches, evict) treat a file whose list
 * holds bytes rather than Yjs updates.
 */
describe('binary files in the store', () => {
  let store: Store;
  let sync: SyncShardDeps;
  beforeAll(async () => {
    store = await createStore({ MAX_FILES_PER_SHARD: '3' });
    sync = store.syncDeps;
  });
  afterAll(async () => {
    await store.close();
  });

  const bytes = (...values: number[]) => new Uint8Array(values);
  const put = (shardId: ShardId, path: string, data: Uint8Array) => store.cache.files.putBlob(shardId, path, data);
  async function stored(shardId: ShardId, path: string): Promise<Uint8Array | undefined> {
    const file = (await store.repository.findById(shardId))?.files.find((f) => f.path === path);
    return file === undefined ? undefined : new Uint8Array(file.ydocState);
  }
  async function cached(shardId: ShardId, path: string): Promise<Uint8Array | null> {
    const id = await store.idOf(shardId, path);
    const blob = await store.cache.files.blob(shardId, id);
    return blob === null ? null : new Uint8Array(blob);
  }

  it('creates, replaces, and keeps the path rules of text files (case twins, folders, file count)', async () => {
    const shardId = await store.open({ 'a.js': 'a' });
    const created = await put(shardId, 'img/x.png', bytes(1, 2, 3));
    expect(created).toMatchObject({ created: true, file: { path: 'img/x.png', kind: 'binary' } });
    const replaced = await put(shardId, 'img/x.png', bytes(4, 5));
    expect(replaced).toMatchObject({ created: false, file: created.file });
    expect(replaced.version).toBeGreaterThan(created.version);
    expect(await cached(shardId, 'img/x.png')).toEqual(bytes(4, 5));
    await expect(put(shardId, 'IMG/X.png', bytes(1))).rejects.toMatchObject({ code: 'FILE_EXISTS' });
    await expect(put(shardId, 'img', bytes(1))).rejects.toMatchObject({ code: 'FILE_EXISTS' });
    await expect(put(shardId, 'a.js/b.png', bytes(1))).rejects.toMatchObject({ code: 'FILE_EXISTS' });
    await expect(put(shardId, 'a.js', bytes(1))).rejects.toMatchObject({ code: 'FILE_KIND_MISMATCH' });
    await put(shardId, 'y.png', bytes(1));
    await expect(put(shardId, 'z.png', bytes(1))).rejects.toMatchObject({ code: 'TOO_MANY_FILES' });
    const tree = await store.cache.files.tree(shardId);
    expect(tree.map((f) => [f.path, f.kind])).toEqual([
      ['a.js', undefined],
      ['img/x.png', 'binary'],
      ['y.png', 'binary'],
    ]);
  });

  it('a replacement during a sync is not undone by its compaction, and is written by the next sync', async () => {
    const shardId = await store.open({});
    await put(shardId, 'x.png', bytes(1));
    const snapshot = await store.cache.sync.snapshot(shardId);
    expect(snapshot.files[0]).toMatchObject({ kind: 'binary', updates: [Buffer.from([1])] });
    // The upload lands between the snapshot and the compaction.
    await put(shardId, 'x.png', bytes(2));
    const k = store.keys(shardId);
    const id = await store.idOf(shardId, 'x.png');
    const compacted = await store.cache.sync.compact(
      shardId,
      { loadId: snapshot.loadId, version: snapshot.version, timeMs: 1 },
      [{ id, version: snapshot.files[0]!.version, gen: snapshot.files[0]!.gen, count: 1, state: bytes(1) }],
    );
    expect(compacted).toEqual({ kind: 'compacted', dirtyLeft: 1 });
    expect(await cached(shardId, 'x.png')).toEqual(bytes(2));
    expect(await store.redis.llen(k.doc(id))).toBe(1);
    await syncShard(sync, shardId, { evict: false });
    expect(await stored(shardId, 'x.png')).toEqual(bytes(2));
    expect(await store.cache.sync.dirtyCount(shardId)).toBe(0);
  });

  it('Redis lost the shard during a sync: the committed bytes win over what the reload read, newer uploads over both', async () => {
    const shardId = await store.open({});
    await put(shardId, 'a.png', bytes(1));
    await put(shardId, 'b.png', bytes(1));
    await syncShard(sync, shardId, { evict: false });
    await put(shardId, 'a.png', bytes(2));
    await put(shardId, 'b.png', bytes(2));
    const snapshot = await store.cache.sync.snapshot(shardId);
    // Redis loses the shard; the reload reads the database before the sync commits (bytes 1).
    for (const key of await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)) {
      await store.redis.del(key);
    }
    await store.cache.loader.ensureLoaded(shardId);
    expect(await cached(shardId, 'a.png')).toEqual(bytes(1));
    // Someone uploads b again after the reload.
    await put(shardId, 'b.png', bytes(3));
    const batch = snapshot.files.map((f) => ({
      id: f.id,
      version: f.version,
      gen: f.gen,
      count: f.updates.length,
      state: f.updates.at(-1)!,
    }));
    expect(
      await store.cache.sync.compact(shardId, { loadId: snapshot.loadId, version: snapshot.version, timeMs: 1 }, batch),
    ).toEqual({ kind: 'stale' });
    expect(await cached(shardId, 'a.png')).toEqual(bytes(2));
    expect(await cached(shardId, 'b.png')).toEqual(bytes(3));
    expect(await store.cache.sync.dirtyCount(shardId)).toBe(2);
    await syncShard(sync, shardId, { evict: false });
    expect(await stored(shardId, 'a.png')).toEqual(bytes(2));
    expect(await stored(shardId, 'b.png')).toEqual(bytes(3));
  });

  it('a deleted binary file leaves no key behind after its sync, and eviction removes the kinds hash', async () => {
    const shardId = await store.open({});
    await put(shardId, 'gone.png', bytes(9));
    await syncShard(sync, shardId, { evict: false });
    const id = await store.idOf(shardId, 'gone.png');
    await store.cache.files.delete(shardId, 'gone.png');
    const k = store.keys(shardId);
    expect(await store.redis.hget(k.kinds, id)).toBe('binary');
    await syncShard(sync, shardId, { evict: false });
    expect(await stored(shardId, 'gone.png')).toBeUndefined();
    expect(await store.redis.exists(k.doc(id))).toBe(0);
    expect(await store.redis.hexists(k.kinds, id)).toBe(0);
    await put(shardId, 'kept.png', bytes(7));
    const result = await syncShard(sync, shardId, { evict: true });
    expect(result.evicted).toBe('EVICTED');
    expect(await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)).toEqual([]);
    await store.cache.loader.ensureLoaded(shardId);
    expect(await cached(shardId, 'kept.png')).toEqual(bytes(7));
    expect(await store.redis.hget(k.kinds, await store.idOf(shardId, 'kept.png'))).toBe('binary');
  });
});
