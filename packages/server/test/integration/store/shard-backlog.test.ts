import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileId, ShardId } from '@tandem/protocol';
import { AppError } from '../../../src/errors/index.js';
import { mergeToState, updateToText, type ShardSnapshot } from '../../../src/shard-cache/index.js';
import { syncShard, type SyncShardDeps } from '../../../src/sync-jobs/index.js';
import { testRedisKeys } from '../../support/services.js';
import { createStore, type Store } from './store-harness.js';

/**
 * The shard backlog: the Yjs bytes Redis holds for a shard are counted in its meta (`heldBytes` =
 * the sum of docbytes, `syncedBytes` = the sum of basebytes, the states a load or a sync left at
 * the head of each list) by every script that changes them, and an edit or create that would take
 * the unsynced part past MAX_SHARD_UNSYNCED_BYTES is refused (retryable) and asks for a sync.
 */
describe('shard backlog', () => {
  // MAX_FILE_BYTES 4096 → MAX_UPDATE_BYTES 8192 (twice) → the bound at its least, 8192 bytes.
  const BOUND = 8192;
  let store: Store;
  let sync: SyncShardDeps;
  beforeAll(async () => {
    store = await createStore({
      MAX_FILE_BYTES: '4096',
      MAX_SHARD_UNSYNCED_BYTES: String(BOUND),
      MAX_FILES_PER_SHARD: '8',
    });
    sync = store.syncDeps;
  });
  afterAll(async () => {
    await store.close();
  });

  const open = (files: Record<string, string>) => store.open(files);
  const idOf = (shardId: ShardId, path: string) => store.idOf(shardId, path);
  async function editTo(shardId: ShardId, id: FileId, text: string): Promise<Uint8Array> {
    const update = updateToText(await store.cache.files.updates(shardId, id), text);
    if (update === null) throw new Error('no change');
    return update;
  }
  async function type(shardId: ShardId, id: FileId, text: string): Promise<number> {
    return store.cache.files.appendUpdate(shardId, id, await editTo(shardId, id, text));
  }
  async function refusal(promise: Promise<unknown>): Promise<{ code: string; reason?: unknown }> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof AppError) return { code: error.code, reason: error.details?.['reason'] };
      return { code: String(error) };
    }
    return { code: 'OK' };
  }
  function sum(values: string[]): number {
    return values.reduce((total, v) => total + Number(v), 0);
  }
  /** The shard's totals, and the sums they must equal. */
  async function totals(shardId: ShardId) {
    const k = store.keys(shardId);
    const [held, synced] = await store.redis.hmget(k.meta, 'heldBytes', 'syncedBytes');
    return {
      held: held === null ? null : Number(held),
      synced: synced === null ? null : Number(synced),
      docbytes: sum(await store.redis.hvals(k.docbytes)),
      basebytes: sum(await store.redis.hvals(k.basebytes)),
    };
  }
  /** The totals equal the sums of docbytes and basebytes; returns the unsynced bytes. */
  async function expectCounted(shardId: ShardId): Promise<number> {
    const t = await totals(shardId);
    expect(t.held).toBe(t.docbytes);
    expect(t.synced).toBe(t.basebytes);
    // docbytes really is what the lists hold.
    const k = store.keys(shardId);
    for (const [id, bytes] of Object.entries(await store.redis.hgetall(k.docbytes))) {
      const list = await store.redis.lrangeBuffer(k.doc(id as FileId), 0, -1);
      expect(
        list.reduce((n, u) => n + u.byteLength, 0),
        `docbytes of ${id}`,
      ).toBe(Number(bytes));
    }
    return t.docbytes - t.basebytes;
  }
  /** Every key of the shard with its content, to show that a refusal changed nothing. */
  async function everything(shardId: ShardId): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of (await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)).sort()) {
      const kind = await store.redis.type(key);
      if (kind === 'hash') out[key] = await store.redis.hgetall(key);
      else if (kind === 'list') out[key] = (await store.redis.lrangeBuffer(key, 0, -1)).map((b) => b.toString('hex'));
      else if (kind === 'zset') out[key] = await store.redis.zrange(key, '0', '-1', 'WITHSCORES');
      else out[key] = await store.redis.get(key);
    }
    return out;
  }
  function compact(shardId: ShardId, snapshot: ShardSnapshot) {
    const entries = snapshot.files.map((f) => ({
      id: f.id,
      version: f.version,
      gen: f.gen,
      count: f.updates.length,
      state: f.path === null ? new Uint8Array(0) : mergeToState(f.updates).state,
    }));
    return store.cache.sync.compact(
      shardId,
      { loadId: snapshot.loadId, version: snapshot.version, timeMs: 1 },
      entries,
    );
  }
  const big = (c: string) => c.repeat(3000);

  it('a load counts every stored state as synced: nothing unsynced', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': big('b'), 'c.js': '' });
    expect(await expectCounted(shardId)).toBe(0);
    expect((await totals(shardId)).held).toBeGreaterThan(3000);
  });

  it('an edit counts its update; one that would pass the bound is refused, retryable, asks for a sync and changes nothing', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    const [a, b, c] = [await idOf(shardId, 'a.js'), await idOf(shardId, 'b.js'), await idOf(shardId, 'c.js')];
    const first = await editTo(shardId, a, big('a'));
    await store.cache.files.appendUpdate(shardId, a, first);
    expect(await expectCounted(shardId)).toBe(first.byteLength);
    await type(shardId, b, big('b'));
    const unsynced = await expectCounted(shardId);
    const third = await editTo(shardId, c, big('c'));
    expect(unsynced + third.byteLength).toBeGreaterThan(BOUND);

    const before = await everything(shardId);
    const backlogs = store.backlogs.length;
    expect(await refusal(store.shards.edit(store.admin, shardId, c, third))).toEqual({
      code: 'SHARD_UNAVAILABLE',
      reason: 'backlog',
    });
    expect(store.backlogs.slice(backlogs)).toEqual([shardId]);
    expect(await refusal(store.cache.files.appendUpdate(shardId, c, third))).toEqual({
      code: 'SHARD_UNAVAILABLE',
      reason: 'backlog',
    });
    expect(await everything(shardId)).toEqual(before);
    // A smaller edit that still fits is accepted.
    await type(shardId, c, 'cc');
    await expectCounted(shardId);
  });

  it('the per-file budget refuses first (FILE_TOO_LARGE is final), and a refusal is never counted', async () => {
    // Stored before the limit was lowered: a's state alone is near 4 × MAX_FILE_BYTES.
    const shardId = await open({ 'a.js': 'a'.repeat(15_000), 'b.js': 'b' });
    const [a, b] = [await idOf(shardId, 'a.js'), await idOf(shardId, 'b.js')];
    await type(shardId, b, big('b'));
    await type(shardId, b, big('c'));
    const unsynced = await expectCounted(shardId);
    const both = await editTo(shardId, a, `${'a'.repeat(15_000)}${big('d')}`);
    expect(unsynced + both.byteLength).toBeGreaterThan(BOUND);
    const before = await everything(shardId);
    expect(await refusal(store.shards.edit(store.admin, shardId, a, both))).toEqual({ code: 'FILE_TOO_LARGE' });
    expect(await everything(shardId)).toEqual(before);
  });

  it('after a sync compacts the shard, the refused edit is accepted and lands in the database', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    const [a, b, c] = [await idOf(shardId, 'a.js'), await idOf(shardId, 'b.js'), await idOf(shardId, 'c.js')];
    await type(shardId, a, big('a'));
    await type(shardId, b, big('b'));
    const third = await editTo(shardId, c, big('c'));
    expect((await refusal(store.shards.edit(store.admin, shardId, c, third))).code).toBe('SHARD_UNAVAILABLE');

    await syncShard(sync, shardId, { evict: false });
    expect(await expectCounted(shardId)).toBe(0);
    const version = await store.shards.edit(store.admin, shardId, c, third);
    expect(await expectCounted(shardId)).toBe(third.byteLength);
    await syncShard(sync, shardId, { evict: false });
    const stored = await store.repository.findById(shardId);
    expect(stored?.files.find((f) => f.id === c)).toMatchObject({ content: big('c'), version });
    expect(await expectCounted(shardId)).toBe(0);
  });

  it('a create counts its content; one past the bound is refused (socket and REST) and changes nothing; a replay is not refused', async () => {
    const shardId = await open({ 'a.js': 'a' });
    const a = await idOf(shardId, 'a.js');
    const created = await store.shards.createFile(store.admin, shardId, 'b.js', big('b'), { opId: 'backlog-op-1' });
    const afterCreate = await expectCounted(shardId);
    expect(afterCreate).toBeGreaterThan(3000);
    await type(shardId, a, big('a'));
    await expectCounted(shardId);

    const before = await everything(shardId);
    const backlogs = store.backlogs.length;
    expect(await refusal(store.shards.createFile(store.admin, shardId, 'c.js', big('c')))).toEqual({
      code: 'SHARD_UNAVAILABLE',
      reason: 'backlog',
    });
    expect(await refusal(store.shards.writeFile(store.admin, shardId, 'd.js', big('d')))).toEqual({
      code: 'SHARD_UNAVAILABLE',
      reason: 'backlog',
    });
    // REST over an existing file is an edit.
    expect(await refusal(store.shards.writeFile(store.admin, shardId, 'a.js', big('e')))).toEqual({
      code: 'SHARD_UNAVAILABLE',
      reason: 'backlog',
    });
    expect(store.backlogs.slice(backlogs)).toEqual([shardId, shardId, shardId]);
    expect(await everything(shardId)).toEqual(before);

    // The same op id again: its first outcome, not a refusal.
    const replayed = await store.shards.createFile(store.admin, shardId, 'b.js', big('b'), { opId: 'backlog-op-1' });
    expect(replayed).toEqual(created);

    await syncShard(sync, shardId, { evict: false });
    expect(await expectCounted(shardId)).toBe(0);
    await store.shards.createFile(store.admin, shardId, 'c.js', big('c'));
    await store.shards.writeFile(store.admin, shardId, 'a.js', 'short');
    expect(await expectCounted(shardId)).toBeGreaterThan(3000);
  });

  it('rename and delete keep the totals; compaction keeps them in every branch', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    const k = store.keys(shardId);
    const [a, b, c] = [await idOf(shardId, 'a.js'), await idOf(shardId, 'b.js'), await idOf(shardId, 'c.js')];
    await type(shardId, a, 'a1');
    await type(shardId, b, 'b1');
    await store.cache.files.rename(shardId, 'a.js', 'src/a.js');
    await expectCounted(shardId);
    await store.cache.files.delete(shardId, 'b.js');
    const withDeleted = await expectCounted(shardId);
    expect(withDeleted).toBeGreaterThan(0);

    // Trim, with an edit after the snapshot, and a deleted file's list dropped.
    let snapshot = await store.cache.sync.snapshot(shardId);
    const later = await editTo(shardId, a, 'a12');
    await store.cache.files.appendUpdate(shardId, a, later);
    expect((await compact(shardId, snapshot)).kind).toBe('compacted');
    expect(await store.redis.hexists(k.docbytes, b)).toBe(0);
    expect(await expectCounted(shardId)).toBe(later.byteLength);

    // Another compaction got there first (generation changed): c is neither trimmed nor
    // recounted; a (its later edit) is compacted.
    const c1 = await editTo(shardId, c, 'c1');
    await store.cache.files.appendUpdate(shardId, c, c1);
    snapshot = await store.cache.sync.snapshot(shardId);
    await store.redis.hincrby(k.gen, c, 1);
    expect(await expectCounted(shardId)).toBe(later.byteLength + c1.byteLength);
    expect((await compact(shardId, snapshot)).kind).toBe('compacted');
    expect(await expectCounted(shardId)).toBe(c1.byteLength);

    // Stale load: Redis lost the shard, it was loaded again; the merged states appended are unsynced.
    await type(shardId, c, 'c12');
    snapshot = await store.cache.sync.snapshot(shardId);
    for (const key of await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)) {
      await store.redis.del(key);
    }
    await store.cache.loader.ensureLoaded(shardId);
    expect(await expectCounted(shardId)).toBe(0);
    expect((await compact(shardId, snapshot)).kind).toBe('stale');
    const appended = await expectCounted(shardId);
    expect(appended).toBeGreaterThan(0);
    // The next sync writes them and compacts them away.
    await syncShard(sync, shardId, { evict: false });
    expect(await expectCounted(shardId)).toBe(0);
  });

  it('totals that drifted (written by a version that did not keep them) are recounted by the next sync', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
    const k = store.keys(shardId);
    const b = await idOf(shardId, 'b.js');
    await type(shardId, await idOf(shardId, 'a.js'), 'ab');
    // As if an older instance had compacted a large file without lowering heldBytes.
    await store.redis.hincrby(k.meta, 'heldBytes', BOUND);
    const edit = await editTo(shardId, b, 'bc');
    expect(await refusal(store.cache.files.appendUpdate(shardId, b, edit))).toMatchObject({ reason: 'backlog' });
    await syncShard(sync, shardId, { evict: false });
    expect(await expectCounted(shardId)).toBe(0);
    await store.cache.files.appendUpdate(shardId, b, edit);
    expect(await expectCounted(shardId)).toBe(edit.byteLength);
  });

  it('eviction removes the totals with the shard', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b' });
    await type(shardId, await idOf(shardId, 'a.js'), 'ab');
    await type(shardId, await idOf(shardId, 'b.js'), 'bc');
    await store.cache.files.delete(shardId, 'a.js');
    expect(await store.redis.exists(store.keys(shardId).basebytes)).toBe(1);
    await syncShard(sync, shardId, { evict: true });
    expect(await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)).toEqual([]);
  });

  it('a shard loaded before the totals existed is neither bounded nor counted until it is loaded again', async () => {
    const shardId = await open({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    const k = store.keys(shardId);
    await store.redis.hdel(k.meta, 'heldBytes', 'syncedBytes');
    await store.redis.del(k.basebytes);
    for (const [path, c] of [
      ['a.js', 'a'],
      ['b.js', 'b'],
      ['c.js', 'c'],
    ] as const) {
      await type(shardId, await idOf(shardId, path), big(c));
    }
    await store.cache.files.createFile(shardId, 'd.js', big('d'));
    await syncShard(sync, shardId, { evict: false });
    expect(await totals(shardId)).toMatchObject({ held: null, synced: null });
  });
});

describe('shard backlog: Redis memory of a shard hammered with large edits', () => {
  // MAX_FILE_BYTES 1 MiB: each file may hold 4 MiB of Yjs data between syncs, so 16 files could
  // hold 64 MiB; the shard may hold 4 MiB unsynced.
  const BOUND = 4 * 1024 * 1024;
  let store: Store;
  beforeAll(async () => {
    store = await createStore({ MAX_FILE_BYTES: String(1024 * 1024), MAX_SHARD_UNSYNCED_BYTES: String(BOUND) });
  });
  afterAll(async () => {
    await store.close();
  });

  it('stays within the stored states plus MAX_SHARD_UNSYNCED_BYTES', async () => {
    const paths = Array.from({ length: 16 }, (_, i) => `f${i}.txt`);
    const shardId = await store.seed(Object.fromEntries(paths.map((p) => [p, ''])));
    await store.cache.loader.ensureLoaded(shardId);
    const ids = new Map((await store.cache.files.tree(shardId)).map((f) => [f.path, f.id]));
    const refusals = new Map<string, number>();
    for (let round = 0; round < 6; round++) {
      for (const path of paths) {
        const id = ids.get(path)!;
        const update = updateToText(
          await store.cache.files.updates(shardId, id),
          String.fromCharCode(97 + round).repeat(768 * 1024),
        );
        try {
          await store.cache.files.appendUpdate(shardId, id, update!);
        } catch (error) {
          const code = error instanceof AppError ? `${error.code}/${String(error.details?.['reason'])}` : String(error);
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
        }
      }
    }
    let bytes = 0;
    for (const key of await testRedisKeys(store.redis, `${store.prefix}:shard:{${shardId}}:*`)) {
      bytes += Number(await store.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    }
    console.info(`shard of 16 files after 96 edits of 768 KiB: ${(bytes / 2 ** 20).toFixed(2)} MiB in Redis`, refusals);
    expect(bytes).toBeLessThan(BOUND + 1024 * 1024);
    expect(refusals.get('SHARD_UNAVAILABLE/backlog')).toBeGreaterThan(0);
  });
});
