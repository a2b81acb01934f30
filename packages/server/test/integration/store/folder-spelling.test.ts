import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { AppError } from '../../../src/errors/index.js';
import { createStore, type Store } from './store-harness.js';

/**
 * A folder has one spelling per shard: `Src/a.js` next to `src/b.js`, or `ſrc/x.js` next to
 * `src/y.js`, would be two folders on Linux and one on Windows and macOS, so a downloaded zip
 * would not extract the same everywhere. Creates and moves that would spell an existing folder
 * otherwise are refused with FILE_EXISTS and change nothing.
 */
describe('folder spellings', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore();
  });
  afterAll(async () => {
    await store.close();
  });

  const open = (files: Record<string, string>) => store.open(files);
  async function codeOf(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (error) {
      return error instanceof AppError ? error.code : String(error);
    }
    return 'OK';
  }
  async function paths(shardId: ShardId): Promise<string[]> {
    return (await store.cache.files.tree(shardId)).map((f) => f.path);
  }

  describe('create', () => {
    it.each([
      ['a long s for an s', 'src/y.js', 'ſrc/x.js'],
      ['another case', 'src/b.js', 'Src/a.js'],
      ['another case, below', 'SRC/other.js', 'src/sub/a.js'],
      ['a folder deeper down', 'src/Lib/a.js', 'src/lib/b.js'],
      ['ß for ss', 'straße/a.js', 'STRASSE/b.js'],
    ])('refuses a folder spelled with %s (%s, then %s)', async (_what, existing, created) => {
      const shardId = await open({ [existing]: '' });
      const clock = await store.cache.files.version(shardId);
      expect(await codeOf(store.cache.files.createFile(shardId, created, ''))).toBe('FILE_EXISTS');
      expect(await store.cache.files.version(shardId)).toBe(clock);
      expect(await paths(shardId)).toEqual([existing]);
    });

    it('accepts files in a folder spelled the same, and folders that only share a prefix', async () => {
      const shardId = await open({ 'src/Lib/a.js': '', 'srcx/b.js': '' });
      await store.cache.files.createFile(shardId, 'src/Lib/b.js', '');
      await store.cache.files.createFile(shardId, 'src/c.js', '');
      await store.cache.files.createFile(shardId, 'src/Libx/d.js', '');
      await store.cache.files.createFile(shardId, 'SRC.js', '');
      expect(await paths(shardId)).toEqual([
        'SRC.js',
        'src/Lib/a.js',
        'src/Lib/b.js',
        'src/Libx/d.js',
        'src/c.js',
        'srcx/b.js',
      ]);
    });
  });

  describe('rename', () => {
    it('renames a whole folder to another case, and a file within its folder', async () => {
      const shardId = await open({ 'src/a.js': '', 'src/sub/b.js': '', 'lib/c.js': '' });
      const caseOnly = await store.cache.files.rename(shardId, 'src', 'Src');
      expect(caseOnly.moves.map((m) => m.to).sort()).toEqual(['Src/a.js', 'Src/sub/b.js']);
      await store.cache.files.rename(shardId, 'Src/a.js', 'Src/z.js');
      await store.cache.files.rename(shardId, 'Src/sub', 'Src/SUB');
      // A folder's last file may take its folder to another spelling: nothing is left behind.
      await store.cache.files.rename(shardId, 'lib/c.js', 'LIB/c.js');
      // Up into its own parent.
      await store.cache.files.rename(shardId, 'Src/SUB', 'Src');
      expect(await paths(shardId)).toEqual(['LIB/c.js', 'Src/b.js', 'Src/z.js']);
    });

    it.each([
      ['a file into a twin folder', 'lib/x.js', 'Src/x.js'],
      ['a file into a twin folder, deeper', 'lib/x.js', 'SRC/sub/x.js'],
      ['a folder into a twin folder', 'lib', 'SRC/lib'],
      ['a folder onto a twin folder', 'lib', 'Src'],
      ['a file out of its folder under another spelling of it', 'src/a.js', 'Src/a.js'],
      ['a subfolder out of its folder under another spelling of it', 'src/sub', 'SRC/sub2'],
      ['a folder merged into one with a twin subfolder', 'lib', 'src'],
    ])('refuses %s (%s to %s)', async (_what, from, to) => {
      const shardId = await open({ 'src/a.js': '', 'src/sub/b.js': '', 'lib/x.js': '', 'lib/Sub/y.js': '' });
      const before = await paths(shardId);
      const clock = await store.cache.files.version(shardId);
      expect(await codeOf(store.cache.files.rename(shardId, from, to))).toBe('FILE_EXISTS');
      expect(await store.cache.files.version(shardId)).toBe(clock);
      expect(await paths(shardId)).toEqual(before);
    });

    it('leaves a shard stored before the rule with two spellings of a folder, and lets its files be moved to one', async () => {
      const shardId = await open({ 'src/a.js': '', 'SRC/b.js': '' });
      await store.cache.files.rename(shardId, 'SRC/b.js', 'tmp/b.js');
      await store.cache.files.rename(shardId, 'tmp/b.js', 'src/b.js');
      expect(await paths(shardId)).toEqual(['src/a.js', 'src/b.js']);
    });

    it('refuses a folder into another spelling of itself', async () => {
      const shardId = await open({ 'src/a.js': '', 'src/x/b.js': '' });
      expect(await codeOf(store.cache.files.rename(shardId, 'src', 'SRC/x/y'))).toBe('PATH_INVALID');
      expect(await codeOf(store.cache.files.rename(shardId, 'src', 'ſrc/inner'))).toBe('PATH_INVALID');
    });
  });
});
