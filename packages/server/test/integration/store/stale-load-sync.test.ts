import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { ShardId } from '@tandem/protocol';
import { mergeToState } from '../../../src/shard-cache/index.js';
import { syncShard } from '../../../src/sync-jobs/index.js';
import { createStore, type Store } from './store-harness.js';

/**
 * A sync job reads a snapshot of one load of the shard; Redis then loses the shard (FLUSHALL, a
 * failover to a replica without it) and it is loaded again from the database before the job
 * writes. The new load's clock must not run below versions the lost load handed out, or the late
 * batch looks newer than what the new load wrote: a deleted file came back in the database, and a
 * file's newer text was overwritten by older (model test seed 1665913252, Node 24 stage).
 */
describe('a sync batch read from a load that Redis lost', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore();
  });
  afterAll(async () => {
    await store.close();
  });

  function insertAtStart(text: string): Uint8Array {
    const doc = new Y.Doc();
    doc.getText('content').insert(0, text);
    return Y.encodeStateAsUpdate(doc);
  }

  /** Starts a sync whose merge waits for release(): its snapshot is read when `read` resolves. */
  function heldSync(shardId: ShardId) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let read!: () => void;
    const wasRead = new Promise<void>((resolve) => (read = resolve));
    const done = syncShard(
      {
        ...store.syncDeps,
        merge: async (files) => {
          read();
          await released;
          return files.map((updates) => mergeToState(updates));
        },
      },
      shardId,
      { evict: false },
    );
    return { read: wasRead, release, done };
  }

  it('neither brings back a file the new load deleted nor overwrites its newer text', async () => {
    const shardId = await store.open({ 'a.js': 'a', 'b.js': 'b' });
    const a = await store.idOf(shardId, 'a.js');
    const b = await store.idOf(shardId, 'b.js');
    // The lost load runs its clock well ahead of the database.
    for (let i = 0; i < 20; i++) {
      await store.shards.edit(store.admin, shardId, a, insertAtStart('old-a;'));
      await store.shards.edit(store.admin, shardId, b, insertAtStart('old-b;'));
    }
    const late = heldSync(shardId);
    await late.read;

    await store.lose(shardId);
    await store.cache.loader.ensureLoaded(shardId);
    // The new load deletes a.js (its tree goes to the database at once) and edits b.js, synced.
    await store.shards.deleteFile(store.admin, shardId, 'a.js', { opId: 'delete-after-reload' });
    await store.shards.edit(store.admin, shardId, b, insertAtStart('new-b;'));
    await syncShard(store.syncDeps, shardId, { evict: false });
    const newText = (await store.repository.findById(shardId))!.files.find((f) => f.id === b)!.content;
    // (Inserts at the start from separate docs: Yjs orders them by client id.)
    expect(newText).toContain('new-b;');
    expect(newText).not.toContain('old-b;');

    late.release();
    await late.done;
    const stored = (await store.repository.findById(shardId))!;
    expect(stored.files.map((f) => f.path)).toEqual(['b.js']);
    expect(stored.files[0]!.content).toBe(newText);

    // The late sync's compaction found the shard loaded again: it appended what it had merged to
    // the new load's files that still exist (the lost run's edits are merged, not dropped), and
    // marked them dirty; the next sync writes the merge, and the deleted file stays deleted.
    await store.shards.edit(store.admin, shardId, b, insertAtStart('newer-b;'));
    await syncShard(store.syncDeps, shardId, { evict: false });
    const after = (await store.repository.findById(shardId))!;
    expect(after.files.map((f) => f.path)).toEqual(['b.js']);
    const cached = await store.cache.files.tree(shardId);
    expect(cached.map((f) => f.path)).toEqual(['b.js']);
    for (const piece of ['newer-b;', 'new-b;', 'old-b;']) expect(after.files[0]!.content).toContain(piece);
    expect(after.files[0]!.content.split('old-b;')).toHaveLength(21);
  });

  it('does not delete a file, nor store a reply, that only the lost load had (its tree never written)', async () => {
    const shardId = await store.open({ 'a.js': 'a', 'b.js': 'b' });
    // A delete stored whose instance died before writing its tree through: only Redis has it.
    await store.cache.files.delete(shardId, 'a.js', { opId: 'never-written' });
    const late = heldSync(shardId);
    await late.read;

    // Redis loses the shard and a join loads it again before the late sync writes: a.js is back.
    await store.lose(shardId);
    await store.cache.loader.ensureLoaded(shardId);
    expect((await store.cache.files.tree(shardId)).map((f) => f.path)).toEqual(['a.js', 'b.js']);
    // The client sends the delete again (same opId): the new load applies it, its tree not written yet.
    await store.cache.files.delete(shardId, 'a.js', { opId: 'never-written' });
    late.release();
    await late.done;

    // Deleted before: the database lacked a.js while the new load had it (had the client not sent
    // it again, for good, and a tree the new load wrote later put the file back empty); and the
    // late sync forgot the new load's reply to the delete sent again.
    const stored = (await store.repository.findById(shardId))!;
    expect(stored.files.map((f) => f.path)).toEqual(['a.js', 'b.js']);
    expect(stored.files[0]!.content).toBe('a');
    expect(stored.treeVersion).toBe(0);
    expect(await store.repository.recentOpReplies(shardId)).toEqual([]);
    expect((await store.cache.files.treeAt(shardId))?.ops.map((op) => op.opId)).toEqual(['never-written']);
    // The new load's own sync writes its delete and its reply.
    await syncShard(store.syncDeps, shardId, { evict: false });
    expect((await store.repository.findById(shardId))!.files.map((f) => f.path)).toEqual(['b.js']);
    expect((await store.repository.recentOpReplies(shardId)).map((r) => r.opId)).toEqual(['never-written']);
  });
});
