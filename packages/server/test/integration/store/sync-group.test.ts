import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import { toAppError } from '../../../src/errors/index.js';
import type { IShardRepository } from '../../../src/persistence/index.js';
import { updateToText } from '../../../src/shard-cache/index.js';
import { syncShards, type SyncShardDeps } from '../../../src/sync-jobs/index.js';
import { createStore, type Store } from './store-harness.js';

/**
 * A sync job's shards are written in one database transaction (applySyncs, a savepoint per
 * shard): one commit for the group, and a shard that fails fails alone.
 */
describe('syncShards (group commit)', () => {
  let store: Store;
  /** Repository calls, by method name (the real repository answers them). */
  const calls = new Map<string, number>();
  let sync: SyncShardDeps;
  beforeAll(async () => {
    store = await createStore();
    const counted = new Proxy(store.repository, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as IShardRepository;
    sync = {
      ...store.syncDeps,
      repository: counted,
      checkpointTimes: new Map(),
    };
  });
  afterAll(async () => {
    await store.close();
  });

  async function type(shardId: ShardId, id: FileId, text: string): Promise<void> {
    const update = updateToText(await store.cache.files.updates(shardId, id), text);
    if (update === null) throw new Error('no change');
    await store.cache.files.appendUpdate(shardId, id, update);
  }
  async function textIn(shardId: ShardId, path: string): Promise<string | undefined> {
    return (await store.repository.findById(shardId))?.files.find((f) => f.path === path)?.content;
  }

  it('writes every shard in one applySyncs, compacts each, and fails only the shard the database lost', async () => {
    const shards = [
      await store.open({ 'a.ts': 'a' }),
      await store.open({ 'a.ts': 'a' }),
      await store.open({ 'a.ts': 'a' }),
    ];
    for (const [i, shardId] of shards.entries()) await type(shardId, await store.idOf(shardId, 'a.ts'), `a${i}`);
    const lost = shards[1] as ShardId;
    await store.repository.delete(lost);
    calls.clear();

    const outcomes = await syncShards(
      sync,
      shards.map((shardId) => ({ shardId, evict: false })),
    );

    expect(outcomes.map((o) => (o.ok ? 'ok' : toAppError(o.error).code))).toEqual([
      'ok',
      ErrorCode.SHARD_NOT_FOUND,
      'ok',
    ]);
    expect(calls.get('applySyncs')).toBe(1);
    expect(calls.get('applySync')).toBeUndefined();
    for (const [i, shardId] of shards.entries()) {
      if (shardId === lost) continue;
      expect(await textIn(shardId, 'a.ts')).toBe(`a${i}`);
      const meta = await store.repository.findMetaById(shardId);
      expect(meta?.lastSyncTimestamp).toBe(outcomes[i]?.ok === true ? outcomes[i].result.version : -1);
      expect((await store.cache.sync.inspect(shardId, [])).dirtyFiles).toBe(0);
    }
    // The lost shard's edits stay in Redis, dirty.
    expect((await store.cache.sync.inspect(lost, [])).dirtyFiles).toBe(1);
  });

  it('ends a group once it holds groupBytes of updates, and writes the rest in the next one', async () => {
    const shards: ShardId[] = [];
    for (let i = 0; i < 10; i++) shards.push(await store.open({ 'a.ts': 'a' }));
    for (const shardId of shards) await type(shardId, await store.idOf(shardId, 'a.ts'), 'b');
    calls.clear();
    // Any shard's updates exceed one byte: the first wave (8 shards read at once) is a group.
    const outcomes = await syncShards(
      sync,
      shards.map((shardId) => ({ shardId, evict: false })),
      { groupBytes: 1 },
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(calls.get('applySyncs')).toBe(2);
    for (const shardId of shards) expect(await textIn(shardId, 'a.ts')).toBe('b');
  });

  it('asks the database for a checkpoint by interval only when one may be due', async () => {
    const shards = [await store.open({ 'a.ts': 'a' }), await store.open({ 'a.ts': 'a' })];
    for (const round of [1, 2, 3]) {
      for (const shardId of shards) await type(shardId, await store.idOf(shardId, 'a.ts'), `a${round}`);
      calls.clear();
      const outcomes = await syncShards(
        sync,
        shards.map((shardId) => ({ shardId, evict: false })),
      );
      expect(outcomes.every((o) => o.ok)).toBe(true);
      // Round 1: each shard’s interval checkpoint is recorded (its first after creation is due
      // when the creation recorded none) or found not due and its time read; later rounds skip it.
      if (round === 1)
        expect((calls.get('createCheckpoint') ?? 0) + (calls.get('listCheckpoints') ?? 0)).toBeGreaterThan(0);
      else expect([calls.get('createCheckpoint'), calls.get('listCheckpoints')]).toEqual([undefined, undefined]);
    }
    // Another thread (nothing known yet) reads each shard's latest checkpoint, and takes no write lock.
    for (const shardId of shards) await type(shardId, await store.idOf(shardId, 'a.ts'), 'another thread');
    calls.clear();
    const outcomes = await syncShards(
      { ...sync, checkpointTimes: new Map() },
      shards.map((shardId) => ({ shardId, evict: false })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect([calls.get('createCheckpoint'), calls.get('listCheckpoints')]).toEqual([undefined, 2]);
  });

  it('writes a shard whose load Redis lost before the commit as text only: no paths the new load lacks', async () => {
    const kept = await store.open({ 'a.ts': 'a', 'old.ts': 'o' });
    const lost = await store.open({ 'a.ts': 'a', 'old.ts': 'o' });
    for (const shardId of [kept, lost]) {
      await type(shardId, await store.idOf(shardId, 'a.ts'), 'typed');
      // A rename stored whose tree never reached the database (its instance died first).
      await store.cache.files.rename(shardId, 'old.ts', 'new.ts', { opId: `rename-${shardId}` });
    }
    const before = (await store.repository.findMetaById(lost))!.lastSyncTimestamp;
    // Exactly between the snapshots and the group's commit, Redis loses one shard and a join loads it again.
    const losing = new Proxy(sync.repository, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'applySyncs' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await store.lose(lost);
          await store.cache.loader.ensureLoaded(lost);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as IShardRepository;
    const outcomes = await syncShards(
      { ...sync, repository: losing },
      [kept, lost].map((shardId) => ({ shardId, evict: false })),
    );
    expect(outcomes.map((o) => (o.ok ? 'ok' : String(o.error)))).toEqual(['ok', 'ok']);
    const paths = async (shardId: ShardId) => (await store.repository.findById(shardId))!.files.map((f) => f.path);
    expect(await paths(kept)).toEqual(['a.ts', 'new.ts']);
    // The new load has old.ts (it read the rows before this commit): the rows keep it too
    // (new.ts before: the two disagreed for good, and a tree written later inserted old.ts empty).
    expect((await store.cache.files.tree(lost)).map((f) => f.path)).toEqual(['a.ts', 'old.ts']);
    expect(await paths(lost)).toEqual(['a.ts', 'old.ts']);
    expect(await store.repository.recentOpReplies(lost)).toEqual([]);
    // Its text is written; its watermark, of the lost load, is not.
    expect(await textIn(lost, 'a.ts')).toBe('typed');
    expect((await store.repository.findMetaById(lost))!.lastSyncTimestamp).toBe(before);
  });
});
