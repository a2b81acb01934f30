import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ErrorCode, type FileId } from '@tandem/protocol';
import { AppError } from '../../../src/errors/index.js';
import { syncShard } from '../../../src/sync-jobs/index.js';
import { createStore, type Store } from './store-harness.js';

/** Idempotent tree operations (op ids, client-chosen file ids) and the file sync read. */
describe('tree operations', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore();
  });
  afterAll(async () => {
    await store.close();
  });

  async function openShard(files: Record<string, string> = { 'a.js': 'a', 'src/b.js': 'b' }) {
    const shardId = await store.seed(files);
    await store.cache.loader.ensureLoaded(shardId);
    return shardId;
  }

  function treeBroadcasts(shardId: string): number {
    return store.broadcasts.filter((b) => b.kind === 'tree' && b.shardId === shardId).length;
  }

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (error) {
      return error instanceof AppError ? error.code : String(error);
    }
    return 'OK';
  }

  it('a replayed create returns the first reply without a change or a second broadcast', async () => {
    const shardId = await openShard();
    const first = await store.shards.createFile(store.admin, shardId, 'new.js', 'x', { opId: 'create-op-1' });
    const clock = await store.cache.files.version(shardId);
    const again = await store.shards.createFile(store.admin, shardId, 'new.js', 'x', { opId: 'create-op-1' });
    expect(again).toEqual(first);
    expect(await store.cache.files.version(shardId)).toBe(clock);
    expect(treeBroadcasts(shardId)).toBe(1);
    // Even a retry whose path now collides returns the first outcome.
    const raw = await store.cache.files.createFile(shardId, 'new.js', 'x', { opId: 'create-op-1' });
    // The reply names the load it was stored in (a file operation is acknowledged only if its tree is written from that load).
    expect(raw).toEqual({ ...first, replayed: true, loadId: expect.any(String) });
    expect((await store.cache.files.tree(shardId)).filter((f) => f.path === 'new.js')).toHaveLength(1);
  });

  it('a replayed rename returns the first reply without a change or a second broadcast', async () => {
    const shardId = await openShard({ 'src/a.js': 'a', 'src/b.js': 'b', 'c.js': 'c' });
    const first = await store.shards.renameFile(store.admin, shardId, 'src', 'lib', { opId: 'rename-op-1' });
    expect(first.moves.map((m) => m.to).sort()).toEqual(['lib/a.js', 'lib/b.js']);
    const clock = await store.cache.files.version(shardId);
    // The folder is gone from `src`: applying it again would fail with FILE_NOT_FOUND.
    const again = await store.shards.renameFile(store.admin, shardId, 'src', 'lib', { opId: 'rename-op-1' });
    expect(again).toEqual(first);
    expect(await store.cache.files.version(shardId)).toBe(clock);
    expect(treeBroadcasts(shardId)).toBe(1);
  });

  it('a replayed delete returns the first reply without a change or a second broadcast', async () => {
    const shardId = await openShard({ 'd/a.js': 'a', 'd/b.js': 'b' });
    const first = await store.shards.deleteFile(store.admin, shardId, 'd', { opId: 'delete-op-1' });
    expect(first.files).toHaveLength(2);
    const clock = await store.cache.files.version(shardId);
    const again = await store.shards.deleteFile(store.admin, shardId, 'd', { opId: 'delete-op-1' });
    expect(again).toEqual(first);
    expect(await store.cache.files.version(shardId)).toBe(clock);
    expect(treeBroadcasts(shardId)).toBe(1);
    // A different op id is a different operation.
    expect(await codeOf(store.shards.deleteFile(store.admin, shardId, 'd', { opId: 'delete-op-2' }))).toBe(
      ErrorCode.FILE_NOT_FOUND,
    );
  });

  it('keeps op ids (and those pending) for 24 hours after the last write, and evict drops them', async () => {
    const shardId = await openShard();
    await store.cache.files.createFile(shardId, 'ttl.js', '', { opId: 'ttl-op-1' });
    const ops = store.keys(shardId).ops;
    const ttl = await store.redis.ttl(ops);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    const pendingTtl = await store.redis.ttl(store.keys(shardId).opsPending);
    expect(pendingTtl).toBeGreaterThan(86_000);
    expect(pendingTtl).toBeLessThanOrEqual(86_400);
    await store.cache.members.remove(shardId, 'nobody');
    await store.shards.deleteFile(store.admin, shardId, 'ttl.js');
    // One more stored without its tree written through: still pending at the eviction.
    await store.cache.files.createFile(shardId, 'ttl2.js', '', { opId: 'ttl-op-2' });
    expect(await store.redis.hkeys(store.keys(shardId).opsPending)).toEqual(['ttl-op-2']);
    // Dirty: sync first.
    await store.redis.del(store.keys(shardId).dirty);
    expect(await store.cache.sync.evict(shardId)).toBe('EVICTED');
    expect(await store.redis.exists(ops)).toBe(0);
    expect(await store.redis.exists(store.keys(shardId).opsPending)).toBe(0);
  });

  it('creates a file with the id the client chose, and refuses one the shard has or had', async () => {
    const shardId = await openShard({ 'a.js': 'a', 'gone.js': 'g' });
    const chosen = 'client-chosen-id-1' as FileId;
    const created = await store.shards.createFile(store.admin, shardId, 'mine.js', 'm', { fileId: chosen });
    expect(created.file).toEqual({ id: chosen, path: 'mine.js' });
    const clock = await store.cache.files.version(shardId);

    // Same id at the same path: the same outcome at the current clock, no change, no broadcast.
    const same = await store.cache.files.createFile(shardId, 'mine.js', 'm', { fileId: chosen });
    expect(same).toEqual({
      file: { id: chosen, path: 'mine.js' },
      version: clock,
      replayed: true,
      loadId: expect.any(String),
    });
    expect(treeBroadcasts(shardId)).toBe(1);
    // Same id elsewhere: refused.
    expect(await codeOf(store.shards.createFile(store.admin, shardId, 'other.js', '', { fileId: chosen }))).toBe(
      ErrorCode.FILE_EXISTS,
    );

    // A deleted file awaiting sync (its doc list and its dirty mark still there).
    const gone = (await store.cache.files.tree(shardId)).find((f) => f.path === 'gone.js')!;
    await store.shards.deleteFile(store.admin, shardId, 'gone.js');
    expect(await codeOf(store.cache.files.createFile(shardId, 'gone.js', '', { fileId: gone.id }))).toBe(
      ErrorCode.FILE_EXISTS,
    );
    // Only the doc list left (dirty cleared).
    await store.redis.zrem(store.keys(shardId).dirty, gone.id);
    expect(await codeOf(store.cache.files.createFile(shardId, 'gone.js', '', { fileId: gone.id }))).toBe(
      ErrorCode.FILE_EXISTS,
    );
    // Only the dirty mark left.
    await store.redis.del(store.keys(shardId).doc(gone.id));
    await store.redis.zadd(store.keys(shardId).dirty, 1, gone.id);
    expect(await codeOf(store.cache.files.createFile(shardId, 'gone.js', '', { fileId: gone.id }))).toBe(
      ErrorCode.FILE_EXISTS,
    );
    // Without a client id the server picks a fresh one.
    const picked = await store.cache.files.createFile(shardId, 'picked.js', '');
    expect(picked.file.id).not.toBe(chosen);
    expect(picked.replayed).toBe(false);
  });

  it('a create replayed after its op id was lost succeeds idempotently when the file is already there', async () => {
    const shardId = await openShard();
    const chosen = 'client-chosen-id-2' as FileId;
    const first = await store.shards.createFile(store.admin, shardId, 'late.js', 'l', {
      fileId: chosen,
      opId: 'lost-op-1',
    });
    await store.redis.del(store.keys(shardId).ops);
    const again = await store.shards.createFile(store.admin, shardId, 'late.js', 'l', {
      fileId: chosen,
      opId: 'lost-op-1',
    });
    expect(again.file).toEqual(first.file);
    expect(again.version).toBe(await store.cache.files.version(shardId));
    expect(treeBroadcasts(shardId)).toBe(1);
    // The replay remembered its outcome again.
    expect(await store.redis.hexists(store.keys(shardId).ops, 'lost-op-1')).toBe(1);
  });

  it('keeps each reply pending until a tree written through takes it to the database', async () => {
    const shardId = await openShard({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    const pending = async () => Object.keys(await store.redis.hgetall(store.keys(shardId).opsPending)).sort();
    // The store steps alone (as if each instance died before writing its tree through).
    await store.cache.files.createFile(shardId, 'n.js', '', { opId: 'p-create' });
    await store.cache.files.rename(shardId, 'b.js', 'bb.js', { opId: 'p-rename' });
    await store.cache.files.delete(shardId, 'c.js', { opId: 'p-delete' });
    // A client-chosen id already at its path is a replay remembered under the new op id.
    const chosen = (await store.cache.files.tree(shardId)).find((f) => f.path === 'n.js')!.id;
    await store.cache.files.createFile(shardId, 'n.js', '', { fileId: chosen, opId: 'p-create-again' });
    // Without an op id nothing is remembered; a replay adds nothing.
    await store.cache.files.createFile(shardId, 'plain.js', '');
    await store.cache.files.delete(shardId, 'c.js', { opId: 'p-delete' });
    expect(await pending()).toEqual(['p-create', 'p-create-again', 'p-delete', 'p-rename']);
    expect(await store.repository.recentOpReplies(shardId)).toEqual([]);
    // The next operation's tree takes them all (and its own), then forgets them in Redis.
    await store.shards.deleteFile(store.admin, shardId, 'plain.js', { opId: 'p-last' });
    expect(await pending()).toEqual([]);
    const written = await store.repository.recentOpReplies(shardId);
    expect(written.map((r) => r.opId).sort()).toEqual(['p-create', 'p-create-again', 'p-delete', 'p-last', 'p-rename']);
    expect(await store.redis.hlen(store.keys(shardId).ops)).toBe(5);
    // Eviction and purge drop the pending hash with the shard's other keys.
    await store.cache.files.rename(shardId, 'a.js', 'aa.js', { opId: 'p-evicted' });
    expect(await pending()).toEqual(['p-evicted']);
    await store.cache.loader.purge(shardId, async () => undefined);
    expect(await store.redis.exists(store.keys(shardId).opsPending)).toBe(0);
  });

  it('answers an operation sent again after Redis lost the shard with its first outcome', async () => {
    const shardId = await openShard({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    // Stored, and the instance died before writing its tree through: not acknowledged, not broadcast.
    const lost = await store.cache.files.delete(shardId, 'a.js', { opId: 'del-op-lost' });
    // Another operation's tree write-through takes the deletion and its reply to the database.
    const renamed = await store.shards.renameFile(store.admin, shardId, 'b.js', 'bb.js', { opId: 'rename-op-after' });
    await store.lose(shardId);
    await store.cache.loader.ensureLoaded(shardId);
    expect((await store.cache.files.tree(shardId)).map((f) => f.path)).toEqual(['bb.js', 'c.js']);
    // Both sent again (their acks were lost): their first outcomes, not "a.js no longer exists".
    const again = await store.shards.deleteFile(store.admin, shardId, 'a.js', { opId: 'del-op-lost' });
    expect(again).toEqual({ files: lost.files, version: lost.version });
    expect(await store.shards.renameFile(store.admin, shardId, 'b.js', 'bb.js', { opId: 'rename-op-after' })).toEqual(
      renamed,
    );
    // Nothing applied twice, and an operation the database never took is still refused.
    expect((await store.cache.files.tree(shardId)).map((f) => f.path)).toEqual(['bb.js', 'c.js']);
    expect(await codeOf(store.shards.deleteFile(store.admin, shardId, 'a.js', { opId: 'del-op-new' }))).toBe(
      ErrorCode.FILE_NOT_FOUND,
    );
  });

  it('a reply whose tree was never written through reaches the database with the next sync', async () => {
    // Never written through: tree_version 0, and a load looks for replies only above it.
    const shardId = await openShard({ 'a.js': 'a', 'b.js': 'b', 'c.js': 'c' });
    expect((await store.repository.findById(shardId))?.treeVersion ?? 0).toBe(0);
    // Stored, and each instance died before writing its tree through.
    const deleted = await store.cache.files.delete(shardId, 'a.js', { opId: 'sync-delete' });
    const renamed = await store.cache.files.rename(shardId, 'b.js', 'bb.js', { opId: 'sync-rename' });
    const synced = await syncShard(store.syncDeps, shardId, { evict: false });
    expect(synced).toMatchObject({ deleted: 1, stale: false });
    expect(await store.redis.hlen(store.keys(shardId).opsPending)).toBe(0);
    expect((await store.repository.recentOpReplies(shardId)).map((r) => r.opId).sort()).toEqual([
      'sync-delete',
      'sync-rename',
    ]);
    expect((await store.repository.findById(shardId))?.treeVersion).toBe(synced.version);
    // Redis loses the shard before either is sent again: the reload answers both with their first outcomes.
    await store.lose(shardId);
    await store.cache.loader.ensureLoaded(shardId);
    expect(await store.shards.deleteFile(store.admin, shardId, 'a.js', { opId: 'sync-delete' })).toEqual({
      files: deleted.files,
      version: deleted.version,
    });
    expect(await store.shards.renameFile(store.admin, shardId, 'b.js', 'bb.js', { opId: 'sync-rename' })).toEqual({
      moves: renamed.moves,
      version: renamed.version,
    });
    expect((await store.cache.files.tree(shardId)).map((f) => f.path)).toEqual(['bb.js', 'c.js']);
  });

  it('replies carry the 16-digit shard clock exactly, replayed ones too', async () => {
    // cjson writes numbers with 14 significant digits: a version in a JSON reply is a string.
    const shardId = await openShard({ 'a.js': 'a', 'b.js': 'b' });
    const clock = async () => Number(await store.redis.get(store.keys(shardId).seq));
    expect(await clock()).toBeGreaterThan(10 ** 15);
    const created = await store.cache.files.createFile(shardId, 'n.js', '', { opId: 'exact-create' });
    expect(created.version).toBe(await clock());
    const blob = await store.cache.files.putBlob(shardId, 'logo.png', new Uint8Array([1, 2, 3]));
    expect(blob.version).toBe(await clock());
    const renamed = await store.cache.files.rename(shardId, 'b.js', 'c.js', { opId: 'exact-rename' });
    expect(renamed.version).toBe(await clock());
    const deleted = await store.cache.files.delete(shardId, 'a.js', { opId: 'exact-delete' });
    expect(deleted.version).toBe(await clock());
    expect((await store.cache.files.delete(shardId, 'a.js', { opId: 'exact-delete' })).version).toBe(deleted.version);
    expect((await store.cache.files.rename(shardId, 'b.js', 'c.js', { opId: 'exact-rename' })).version).toBe(
      renamed.version,
    );
    expect((await store.cache.files.createFile(shardId, 'n.js', '', { opId: 'exact-create' })).version).toBe(
      created.version,
    );
  });

  it('the file sync read returns a version at least that of every update it holds', async () => {
    const shardId = await openShard({ 'a.js': '' });
    const file = (await store.cache.files.tree(shardId))[0]!;
    const doc = new Y.Doc();
    doc.getText('content').insert(0, 'hello');
    const update = Y.encodeStateAsUpdate(doc);
    const edited = await store.shards.edit(store.admin, shardId, file.id, update);
    const result = await store.shards.syncFile(store.admin, shardId, file.id, new Uint8Array([0]));
    expect(result.version).toBeGreaterThanOrEqual(edited);
    const read = await store.cache.files.readForSync(shardId, file.id);
    expect(read).toMatchObject({ loaded: true, inTree: true, version: edited });
    expect(read.updates).toHaveLength(2);
    expect(
      await codeOf(store.shards.syncFile(store.admin, shardId, 'no-such-file' as FileId, new Uint8Array([0]))),
    ).toBe(ErrorCode.FILE_NOT_FOUND);
    // Not loaded: the read says so, and the service loads the shard first.
    const closed = await store.seed({ 'x.js': 'x' });
    const stored = (await store.repository.findById(closed))!.files[0]!;
    expect(await store.cache.files.readForSync(closed, stored.id)).toMatchObject({ loaded: false, inTree: false });
    const synced = await store.shards.syncFile(store.admin, closed, stored.id, new Uint8Array([0]));
    expect(synced.fileId).toBe(stored.id);
  });
});
