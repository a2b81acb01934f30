import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileId, ShardId } from '@tandem/protocol';
import { AppError } from '../../../src/errors/index.js';
import { updateToText } from '../../../src/shard-cache/index.js';
import { createStore, type Store } from './store-harness.js';

/** Every branch of the edit, create, rename, delete and file-sync-read scripts, against real Redis. */
describe('file scripts', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore({ MAX_FILES_PER_SHARD: '4', MAX_FILE_BYTES: '1024' });
  });
  afterAll(async () => {
    await store.close();
  });

  const open = (files: Record<string, string>) => store.open(files);
  const idOf = (shardId: ShardId, path: string) => store.idOf(shardId, path);
  async function codeOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (error) {
      return error instanceof AppError ? error.code : String(error);
    }
    return 'OK';
  }
  /** Drops the loaded marker, as when Redis lost the shard, without a way back (no repository row). */
  async function unload(shardId: ShardId): Promise<void> {
    await store.redis.hdel(store.keys(shardId).meta, 'loaded');
    await store.repository.delete(shardId);
  }
  function edit(updates: Uint8Array[], text: string): Uint8Array {
    const update = updateToText(updates, text);
    if (update === null) throw new Error('no change');
    return update;
  }

  describe('edit', () => {
    it('appends the update, moves the clock, marks the file dirty at that version, counts its bytes, notes the first dirty time once', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const k = store.keys(shardId);
      const id = await idOf(shardId, 'a.js');
      const clock = await store.cache.files.version(shardId);
      const before = await store.cache.files.updates(shardId, id);
      const update = edit(before, 'ab');
      const v = await store.cache.files.appendUpdate(shardId, id, update);
      expect(v).toBe(clock + 1);
      expect(await store.redis.llen(k.doc(id))).toBe(2);
      expect(Number(await store.redis.zscore(k.dirty, id))).toBe(v);
      expect(Number(await store.redis.hget(k.docbytes, id))).toBe(before[0]!.byteLength + update.byteLength);
      const first = await store.redis.hget(k.meta, 'firstDirtyAt');
      expect(Number(first)).toBeGreaterThan(0);
      const v2 = await store.cache.files.appendUpdate(
        shardId,
        id,
        edit(await store.cache.files.updates(shardId, id), 'abc'),
      );
      expect(v2).toBe(v + 1);
      expect(Number(await store.redis.zscore(k.dirty, id))).toBe(v2);
      expect(await store.redis.hget(k.meta, 'firstDirtyAt')).toBe(first);
    });

    it('refuses a file not in the tree, a file that would grow past 4 × MAX_FILE_BYTES, and a shard not loaded', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const id = await idOf(shardId, 'a.js');
      const updates = await store.cache.files.updates(shardId, id);
      expect(
        await codeOf(store.cache.files.appendUpdate(shardId, 'missing-file-id' as FileId, edit(updates, 'x'))),
      ).toBe('FILE_NOT_FOUND');
      expect(await codeOf(store.cache.files.appendUpdate(shardId, id, edit(updates, 'a'.repeat(4200))))).toBe(
        'FILE_TOO_LARGE',
      );
      const clock = await store.cache.files.version(shardId);
      expect(await store.redis.llen(store.keys(shardId).doc(id))).toBe(1);
      await unload(shardId);
      expect(await codeOf(store.cache.files.appendUpdate(shardId, id, edit(updates, 'ab')))).toBe('SHARD_NOT_FOUND');
      expect(await store.cache.files.version(shardId)).toBe(clock);
    });

    it("notes the edit's author for the next checkpoint in the same step, and only when the edit is stored", async () => {
      const shardId = await open({ 'a.js': 'a' });
      const id = await idOf(shardId, 'a.js');
      const authors = store.cache.authors;
      const updates = await store.cache.files.updates(shardId, id);
      const refused = authors.noteOf({ userId: 'u1', name: 'Refused' });
      expect(
        await codeOf(store.cache.files.appendEdit(shardId, id, edit(updates, 'a'.repeat(4200)), { author: refused })),
      ).toBe('FILE_TOO_LARGE');
      expect((await authors.read(shardId)).authors).toEqual([]);
      await store.cache.files.appendEdit(shardId, id, edit(updates, 'ab'), {
        author: authors.noteOf({ userId: 'u1', name: 'Ada' }),
      });
      const notes = await authors.read(shardId);
      expect(notes.authors).toEqual([{ userId: 'u1', name: 'Ada' }]);
      // A later edit by the same author writes a new note: a checkpoint that read the first keeps it.
      await store.cache.files.appendEdit(shardId, id, edit(await store.cache.files.updates(shardId, id), 'abc'), {
        author: authors.noteOf({ userId: 'u1', name: 'Ada' }),
      });
      await authors.clear(shardId, notes);
      expect((await authors.read(shardId)).authors).toEqual([{ userId: 'u1', name: 'Ada' }]);
    });
  });

  describe('create', () => {
    it('adds the file to the tree with its state, marks it dirty at a new version', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const k = store.keys(shardId);
      const clock = await store.cache.files.version(shardId);
      const created = await store.cache.files.createFile(shardId, 'src/new.js', 'hello');
      expect(created.version).toBe(clock + 1);
      expect(await store.redis.hget(k.tree, created.file.id)).toBe('src/new.js');
      expect(await store.redis.llen(k.doc(created.file.id))).toBe(1);
      expect(Number(await store.redis.zscore(k.dirty, created.file.id))).toBe(created.version);
      expect(Number(await store.redis.hget(k.docbytes, created.file.id))).toBeGreaterThan(0);
      expect(await store.redis.hexists(k.meta, 'firstDirtyAt')).toBe(1);
    });

    it.each([
      ['the same path', 'src/a.js'],
      ['the same path in another case', 'SRC/A.js'],
      ['a file where a folder is', 'src'],
      ['a folder where a file is', 'src/a.js/b.js'],
    ])('refuses %s with FILE_EXISTS and changes nothing', async (_what, path) => {
      const shardId = await open({ 'src/a.js': 'a' });
      const clock = await store.cache.files.version(shardId);
      expect(await codeOf(store.cache.files.createFile(shardId, path, ''))).toBe('FILE_EXISTS');
      expect(await store.cache.files.version(shardId)).toBe(clock);
      expect(await store.cache.files.tree(shardId)).toHaveLength(1);
    });

    it('refuses past MAX_FILES_PER_SHARD, and on a shard not loaded', async () => {
      const shardId = await open({ 'a.js': '', 'b.js': '', 'c.js': '', 'd.js': '' });
      expect(await codeOf(store.cache.files.createFile(shardId, 'e.js', ''))).toBe('TOO_MANY_FILES');
      await unload(shardId);
      expect(await codeOf(store.cache.files.createFile(shardId, 'f.js', ''))).toBe('SHARD_NOT_FOUND');
    });
  });

  describe('rename', () => {
    it('moves one file, or every file of a folder, at one new version', async () => {
      const shardId = await open({ 'a.js': 'a', 'src/b.js': 'b', 'src/c/d.js': 'd', 'srcx.js': 'x' });
      const k = store.keys(shardId);
      const one = await store.cache.files.rename(shardId, 'a.js', 'z.js');
      expect(one.moves).toEqual([{ id: await idOf(shardId, 'z.js'), from: 'a.js', to: 'z.js' }]);
      const folder = await store.cache.files.rename(shardId, 'src', 'lib');
      expect(folder.version).toBe(one.version + 1);
      expect(folder.moves.map((m) => m.to).sort()).toEqual(['lib/b.js', 'lib/c/d.js']);
      for (const m of folder.moves) expect(Number(await store.redis.zscore(k.dirty, m.id))).toBe(folder.version);
      // `srcx.js` shares the prefix but is not in the folder.
      expect(await idOf(shardId, 'srcx.js')).toBeDefined();
    });

    it('refuses a folder into itself, a missing source, a collision, and a shard not loaded', async () => {
      const shardId = await open({ 'src/a.js': 'a', 'lib/a.js': 'b', 'B.js': 'c' });
      const clock = await store.cache.files.version(shardId);
      expect(await codeOf(store.cache.files.rename(shardId, 'src', 'src/inner'))).toBe('PATH_INVALID');
      expect(await codeOf(store.cache.files.rename(shardId, 'nope', 'other'))).toBe('FILE_NOT_FOUND');
      expect(await codeOf(store.cache.files.rename(shardId, 'src', 'lib'))).toBe('FILE_EXISTS');
      expect(await codeOf(store.cache.files.rename(shardId, 'src/a.js', 'b.js'))).toBe('FILE_EXISTS');
      expect(await codeOf(store.cache.files.rename(shardId, 'src/a.js', 'B.js/x.js'))).toBe('FILE_EXISTS');
      expect(await store.cache.files.version(shardId)).toBe(clock);
      await unload(shardId);
      expect(await codeOf(store.cache.files.rename(shardId, 'src', 'lib2'))).toBe('SHARD_NOT_FOUND');
    });
  });

  describe('delete', () => {
    it('removes one file or a folder from the tree, keeps their update lists for the sync, marks them dirty', async () => {
      const shardId = await open({ 'a.js': 'a', 'd/b.js': 'b', 'd/e/c.js': 'c', 'dx.js': 'x' });
      const k = store.keys(shardId);
      const ids = { a: await idOf(shardId, 'a.js'), b: await idOf(shardId, 'd/b.js') };
      const one = await store.cache.files.delete(shardId, 'a.js');
      expect(one.files).toEqual([{ id: ids.a, path: 'a.js' }]);
      const folder = await store.cache.files.delete(shardId, 'd');
      expect(folder.files.map((f) => f.path).sort()).toEqual(['d/b.js', 'd/e/c.js']);
      expect((await store.cache.files.tree(shardId)).map((f) => f.path)).toEqual(['dx.js']);
      expect(await store.redis.exists(k.doc(ids.a), k.doc(ids.b))).toBe(2);
      expect(Number(await store.redis.zscore(k.dirty, ids.b))).toBe(folder.version);
    });

    it('refuses a missing path and a shard not loaded', async () => {
      const shardId = await open({ 'a.js': 'a' });
      expect(await codeOf(store.cache.files.delete(shardId, 'b.js'))).toBe('FILE_NOT_FOUND');
      expect(await codeOf(store.cache.files.delete(shardId, 'a'))).toBe('FILE_NOT_FOUND');
      await unload(shardId);
      expect(await codeOf(store.cache.files.delete(shardId, 'a.js'))).toBe('SHARD_NOT_FOUND');
    });
  });

  describe('file sync read', () => {
    it('reads a file and the clock in one step; a file not in the tree reads as such', async () => {
      const shardId = await open({ 'a.js': 'a' });
      const id = await idOf(shardId, 'a.js');
      const v = await store.cache.files.appendUpdate(
        shardId,
        id,
        edit(await store.cache.files.updates(shardId, id), 'ab'),
      );
      expect(await store.cache.files.readForSync(shardId, id)).toMatchObject({
        loaded: true,
        inTree: true,
        binary: false,
        version: v,
      });
      await store.cache.files.delete(shardId, 'a.js');
      const gone = await store.cache.files.readForSync(shardId, id);
      expect(gone).toEqual({ loaded: true, inTree: false, binary: false, version: v + 1, updates: [] });
    });
  });
});
