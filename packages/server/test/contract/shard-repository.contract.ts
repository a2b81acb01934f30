import { randomUUID } from 'node:crypto';
import { ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { AppError } from '../../src/errors/index.js';
import {
  OP_REPLY_TTL_MS,
  type IShardRepository,
  type Shard,
  type ShardListCursor,
  type ShardListFilter,
  type ShardMeta,
  type StoredFile,
  type SyncBatch,
} from '../../src/persistence/index.js';

/** One open repository on the suite's store, and how to close it. */
export type ShardRepositoryHandle = { repo: IShardRepository; cleanup(): Promise<void> };

/**
 * Opens a new repository instance (its own pool or file handle) on the same store every time
 * it is called, so the suite can race two instances. The store itself (schema, file) belongs
 * to the calling test file, which creates it before and removes it after the suite.
 */
export type ShardRepositoryFactory = () => Promise<ShardRepositoryHandle>;

export function newShardId(): ShardId {
  return randomUUID() as ShardId;
}

export function newFileId(): FileId {
  return randomUUID().replaceAll('-', '').slice(0, 20) as FileId;
}

/** A real Yjs state whose Y.Text "content" holds `text`. */
export function yjsState(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('content').insert(0, text);
  const state = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return state;
}

export function textOf(state: Uint8Array): string {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const text = doc.getText('content').toString();
  doc.destroy();
  return text;
}

/** A date with whole milliseconds, in the past so that "now" is always later. */
function pastDate(daysAgo: number): Date {
  return new Date(Date.UTC(2024, 0, 1, 12, 0, 0, 123) - daysAgo * 86_400_000);
}

export function makeFile(path: string, text: string, version = 1, overrides: Partial<StoredFile> = {}): StoredFile {
  return {
    id: newFileId(),
    path,
    content: text,
    ydocState: yjsState(text),
    version,
    updatedAt: pastDate(3),
    ...overrides,
  };
}

export function makeShard(files: StoredFile[] = [], overrides: Partial<Shard> = {}): Shard {
  return {
    id: newShardId(),
    name: 'demo shard',
    ownerId: 'owner-1',
    templateId: 'react',
    templateRevision: 3,
    dependencies: { react: '18.3.1', 'react-dom': '18.3.1' },
    devDependencies: { vite: '5.4.0', '@types/react': '18.3.3' },
    createdAt: pastDate(10),
    updatedAt: pastDate(5),
    lastSyncTimestamp: 0,
    files,
    ...overrides,
  };
}

function toUpsert(file: StoredFile): SyncBatch['upserts'][number] {
  return {
    id: file.id,
    path: file.path,
    content: file.content,
    ydocState: file.ydocState,
    ...(file.kind === undefined ? {} : { kind: file.kind }),
    version: file.version,
  };
}

/** A binary file (an image): its bytes in ydocState, no text. */
export function makeBinaryFile(path: string, bytes: readonly number[], version = 1): StoredFile {
  return makeFile(path, '', version, { ydocState: new Uint8Array(bytes), kind: 'binary' });
}

/** Binary columns come back as Buffer or Uint8Array; compare bytes, not classes. */
function comparable(shard: Shard | null): unknown {
  if (shard === null) return null;
  return {
    treeVersion: 0,
    ...shard,
    files: shard.files
      .map((file) => ({ ...file, ydocState: Array.from(file.ydocState) }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}

async function expectAppError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
}

/** Registers the IShardRepository contract suite for one implementation. */
export function describeShardRepositoryContract(name: string, open: ShardRepositoryFactory): void {
  describe(`IShardRepository contract: ${name}`, () => {
    let handle: ShardRepositoryHandle;
    let repo: IShardRepository;

    beforeAll(async () => {
      handle = await open();
      repo = handle.repo;
      await repo.migrate();
    });

    afterAll(async () => {
      await handle.cleanup();
    });

    async function stored(id: ShardId): Promise<Shard> {
      const shard = await repo.findById(id);
      if (shard === null) throw new Error(`shard ${id} should exist`);
      return shard;
    }

    function fileOf(shard: Shard, id: FileId): StoredFile {
      const file = shard.files.find((f) => f.id === id);
      if (file === undefined) throw new Error(`file ${id} should exist`);
      return file;
    }

    describe('save and find', () => {
      it('round-trips a shard with unicode text, binary Yjs state and dependency maps', async () => {
        const text = 'export const greeting = "héllo wörld, 你好, 🎉";\n\tline two\r\n';
        const binary = makeFile('src/bytes.bin', '', 7, { ydocState: Uint8Array.from({ length: 256 }, (_, i) => i) });
        const shard = makeShard([makeFile('src/App.tsx', text, 41), makeFile('README.md', '# Ünïcødé 📦', 2), binary], {
          name: 'Ärger & 日本語',
          dependencies: { '@scope/pkg': '^1.2.3', 'ünïcode-dep': 'npm:other@2' },
          // Beyond 32 bits: proves bigint columns come back as exact numbers.
          lastSyncTimestamp: 2 ** 40 + 7,
        });

        await repo.save(shard);
        const found = await stored(shard.id);

        expect(comparable(found)).toEqual(comparable(shard));
        expect(found.files.map((f) => f.path)).toEqual(['README.md', 'src/App.tsx', 'src/bytes.bin']);
        expect(typeof found.lastSyncTimestamp).toBe('number');
        expect(found.createdAt).toBeInstanceOf(Date);
        const app = found.files.find((f) => f.path === 'src/App.tsx');
        expect(app?.ydocState).toBeInstanceOf(Uint8Array);
        expect(app?.version).toBe(41);
        expect(app?.updatedAt).toBeInstanceOf(Date);
        expect(textOf(app?.ydocState ?? new Uint8Array())).toBe(text);

        const { files: _files, ...meta } = shard;
        expect(await repo.findMetaById(shard.id)).toEqual(meta);
      });

      it('round-trips binary files (their bytes and kind) next to text files', async () => {
        const logo = makeBinaryFile('public/logo.png', [0x89, 0x50, 0x4e, 0x47, 0, 255, 0, 1]);
        const text = makeFile('index.html', '<img src="public/logo.png">');
        const shard = makeShard([logo, text]);
        await repo.save(shard);
        const found = await stored(shard.id);
        expect(comparable(found)).toEqual(comparable(shard));
        expect(fileOf(found, logo.id).kind).toBe('binary');
        expect(fileOf(found, text.id).kind).toBeUndefined();
      });

      it('returns null for an unknown shard', async () => {
        expect(await repo.findById(newShardId())).toBeNull();
        expect(await repo.findMetaById(newShardId())).toBeNull();
      });

      it('replaces the row and the whole file set on a second save', async () => {
        const keep = makeFile('keep.ts', 'old', 1);
        const shard = makeShard([keep, makeFile('gone.ts', 'bye', 1), makeFile('also-gone.ts', 'bye', 1)]);
        await repo.save(shard);

        const replacement: Shard = {
          ...shard,
          name: 'renamed',
          templateRevision: 4,
          devDependencies: {},
          files: [{ ...keep, content: 'new', ydocState: yjsState('new'), version: 2 }, makeFile('added.ts', 'hi', 2)],
        };
        await repo.save(replacement);

        expect(comparable(await repo.findById(shard.id))).toEqual(comparable(replacement));
      });

      it('rejects a shard that lists a file id or a path twice', async () => {
        const file = makeFile('a.ts', 'a');
        await expectAppError(repo.save(makeShard([file, { ...file, path: 'b.ts' }])), ErrorCode.VALIDATION_FAILED);
        await expectAppError(repo.save(makeShard([file, makeFile('a.ts', 'b')])), ErrorCode.VALIDATION_FAILED);
      });
    });

    describe('applySync', () => {
      it('writes only the given files and advances the watermark', async () => {
        const [a, b, c] = [makeFile('a.ts', 'a', 1), makeFile('b.ts', 'b', 1), makeFile('c.ts', 'c', 1)];
        const shard = makeShard([a, b, c], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const created = makeFile('d.ts', 'd', 2);
        const before = Date.now();

        const result = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 2,
          upserts: [toUpsert({ ...b, content: 'b2', ydocState: yjsState('b2'), version: 2 }), toUpsert(created)],
          deletes: [],
        });

        expect(result).toEqual({ written: 2, deleted: 0, skipped: 0 });
        const after = await stored(shard.id);
        expect(after.lastSyncTimestamp).toBe(2);
        expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(after.files).toHaveLength(4);
        // Untouched rows keep their version and updated_at: the sync wrote nothing to them.
        for (const untouched of [a, c]) {
          const file = fileOf(after, untouched.id);
          expect(file.version).toBe(1);
          expect(file.updatedAt).toEqual(untouched.updatedAt);
        }
        const written = fileOf(after, b.id);
        expect(written).toMatchObject({ content: 'b2', version: 2, path: 'b.ts' });
        expect(textOf(written.ydocState)).toBe('b2');
        expect(written.updatedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(fileOf(after, created.id)).toMatchObject({ content: 'd', version: 2, path: 'd.ts' });
        expect(after.dependencies).toEqual(shard.dependencies);
      });

      it('writes binary files, replaces their bytes, and keeps their kind', async () => {
        const shard = makeShard([makeFile('a.ts', 'a', 1)], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const image = makeBinaryFile('img.png', [1, 2, 3], 2);
        expect(
          await repo.applySync({ shardId: shard.id, lastSyncTimestamp: 2, upserts: [toUpsert(image)], deletes: [] }),
        ).toEqual({ written: 1, deleted: 0, skipped: 0 });
        expect(fileOf(await stored(shard.id), image.id)).toMatchObject({ kind: 'binary', content: '' });
        const replaced = { ...image, ydocState: new Uint8Array([9, 0, 9]), version: 3 };
        // The same bytes again at an equal version change nothing; new bytes are written.
        const again = { shardId: shard.id, lastSyncTimestamp: 3, deletes: [] };
        expect((await repo.applySync({ ...again, upserts: [toUpsert(replaced)] })).written).toBe(1);
        expect((await repo.applySync({ ...again, upserts: [toUpsert(replaced)] })).skipped).toBe(1);
        const after = fileOf(await stored(shard.id), image.id);
        expect(Array.from(after.ydocState)).toEqual([9, 0, 9]);
        expect(after.kind).toBe('binary');
        expect(
          (
            await repo.applySync({
              ...again,
              lastSyncTimestamp: 4,
              upserts: [],
              deletes: [{ id: image.id, version: 4 }],
            })
          ).deleted,
        ).toBe(1);
        expect((await stored(shard.id)).files.map((f) => f.path)).toEqual(['a.ts']);
      });

      it('deletes files whose stored version is not newer, and skips the rest', async () => {
        const [a, b] = [makeFile('a.ts', 'a', 5), makeFile('b.ts', 'b', 5)];
        const shard = makeShard([a, b]);
        await repo.save(shard);

        const result = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 6,
          upserts: [],
          deletes: [
            { id: a.id, version: 6 },
            { id: b.id, version: 4 }, // stale: b was changed after this deletion
            { id: newFileId(), version: 6 }, // never existed
          ],
        });

        expect(result).toEqual({ written: 0, deleted: 1, skipped: 2 });
        expect((await stored(shard.id)).files.map((f) => f.id)).toEqual([b.id]);
      });

      it('writes a batch whose load is gone (its current check) as text only, alone or in a group', async () => {
        const [a, b] = [makeFile('a.ts', 'a', 5), makeFile('b.ts', 'b', 5)];
        const shard = makeShard([a, b], { lastSyncTimestamp: 5 });
        const other = makeShard([makeFile('o.ts', 'o', 5)], { lastSyncTimestamp: 5 });
        await repo.save(shard);
        await repo.save(other);
        const batch = (shardId: ShardId, files: StoredFile[]): SyncBatch => ({
          shardId,
          lastSyncTimestamp: 9,
          upserts: files.map((f) => toUpsert({ ...f, path: `moved/${f.path}`, content: `${f.content}9`, version: 9 })),
          deletes: [],
          ops: [{ opId: `op-${shardId}`, reply: '{}' }],
        });
        const asked: string[][] = [];
        const onlyOther = async (ids: readonly ShardId[]) => (asked.push([...ids]), new Set([other.id]));

        const result = await repo.applySync(
          { ...batch(shard.id, [a]), deletes: [{ id: b.id, version: 9 }] },
          { current: onlyOther },
        );
        expect(result).toEqual({ written: 1, deleted: 0, skipped: 1 });
        const outcomes = await repo.applySyncs([batch(shard.id, [a, b]), batch(other.id, other.files)], {
          current: onlyOther,
        });
        expect(outcomes.every((o) => o.ok)).toBe(true);
        expect(asked).toEqual([[shard.id], [shard.id, other.id].sort()]);

        const after = await stored(shard.id);
        expect(after.files.map((f) => [f.path, f.content])).toEqual([
          ['a.ts', 'a9'],
          ['b.ts', 'b9'],
        ]);
        expect(after).toMatchObject({ lastSyncTimestamp: 5, treeVersion: 0 });
        expect(await repo.recentOpReplies(shard.id)).toEqual([]);
        // The other shard's load is there: written whole.
        expect((await stored(other.id)).files.map((f) => f.path)).toEqual(['moved/o.ts']);
        expect((await stored(other.id)).lastSyncTimestamp).toBe(9);
      });

      it('never moves the watermark back', async () => {
        const shard = makeShard([]);
        await repo.save(shard);
        await repo.applySync({ shardId: shard.id, lastSyncTimestamp: 10, upserts: [], deletes: [] });
        await repo.applySync({ shardId: shard.id, lastSyncTimestamp: 5, upserts: [], deletes: [] });
        expect((await repo.findMetaById(shard.id))?.lastSyncTimestamp).toBe(10);
      });

      it('skips files whose stored version is newer, and rewrites equal versions only when they differ', async () => {
        const file = makeFile('a.ts', 'v5', 5);
        const shard = makeShard([file], { lastSyncTimestamp: 5 });
        await repo.save(shard);

        const stale = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 3,
          upserts: [{ ...toUpsert(file), content: 'v3', ydocState: yjsState('v3'), version: 3 }],
          deletes: [],
        });
        expect(stale).toEqual({ written: 0, deleted: 0, skipped: 1 });
        expect(comparable(await repo.findById(shard.id))).toEqual(comparable(shard));

        const equalButDifferent = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 5,
          upserts: [{ ...toUpsert(file), content: 'v5 again', ydocState: yjsState('v5 again') }],
          deletes: [],
        });
        expect(equalButDifferent).toEqual({ written: 1, deleted: 0, skipped: 0 });
        expect(fileOf(await stored(shard.id), file.id).content).toBe('v5 again');
      });

      it('is idempotent: a replayed batch changes nothing and reports every entry as skipped', async () => {
        const [a, b] = [makeFile('a.ts', 'a', 1), makeFile('b.ts', 'b', 1)];
        const shard = makeShard([a, b], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const batch: SyncBatch = {
          shardId: shard.id,
          lastSyncTimestamp: 3,
          upserts: [
            toUpsert({ ...a, content: 'a3', ydocState: yjsState('a3'), version: 3 }),
            toUpsert(makeFile('c.ts', 'c', 2)),
          ],
          deletes: [{ id: b.id, version: 3 }],
          dependencies: { dependencies: { react: '19.0.0' }, devDependencies: {} },
        };

        expect(await repo.applySync(batch)).toEqual({ written: 2, deleted: 1, skipped: 0 });
        const once = await repo.findById(shard.id);
        expect(await repo.applySync(batch)).toEqual({ written: 0, deleted: 0, skipped: 3 });
        const twice = await repo.findById(shard.id);

        expect(comparable(twice)).toEqual(comparable(once));
        expect(twice?.dependencies).toEqual({ react: '19.0.0' });
        expect(twice?.devDependencies).toEqual({});
        expect(twice?.lastSyncTimestamp).toBe(3);
      });

      it('swaps two paths inside one batch', async () => {
        const [a, b] = [makeFile('a.ts', 'A', 1), makeFile('b.ts', 'B', 1)];
        const shard = makeShard([a, b]);
        await repo.save(shard);

        const result = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 2,
          upserts: [toUpsert({ ...a, path: 'b.ts', version: 2 }), toUpsert({ ...b, path: 'a.ts', version: 2 })],
          deletes: [],
        });

        expect(result.written).toBe(2);
        const after = await stored(shard.id);
        expect(fileOf(after, a.id)).toMatchObject({ path: 'b.ts', content: 'A' });
        expect(fileOf(after, b.id)).toMatchObject({ path: 'a.ts', content: 'B' });
      });

      it('collapses repeated entries for one file to the newest', async () => {
        const shard = makeShard([]);
        await repo.save(shard);
        const file = makeFile('a.ts', 'x', 1);

        const result = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 4,
          upserts: [toUpsert({ ...file, content: 'v4', version: 4 }), toUpsert({ ...file, content: 'v2', version: 2 })],
          deletes: [],
        });

        expect(result).toEqual({ written: 1, deleted: 0, skipped: 1 });
        expect(fileOf(await stored(shard.id), file.id)).toMatchObject({ content: 'v4', version: 4 });
      });

      it('is atomic: a batch that fails halfway leaves nothing written', async () => {
        const existing = makeFile('existing.ts', 'keep me', 1);
        const shard = makeShard([existing], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const before = comparable(await repo.findById(shard.id));
        // Enough rows for several statements; the last one violates NOT NULL in the database.
        const valid = Array.from({ length: 250 }, (_, i) => toUpsert(makeFile(`gen/f${i}.ts`, `// ${i}`, 2)));
        const broken = { ...toUpsert(makeFile('broken.ts', 'x', 2)), path: null as unknown as string };

        await expect(
          repo.applySync({
            shardId: shard.id,
            lastSyncTimestamp: 2,
            upserts: [...valid, broken],
            deletes: [{ id: existing.id, version: 2 }],
            dependencies: { dependencies: {}, devDependencies: {} },
          }),
        ).rejects.toThrow();

        expect(comparable(await repo.findById(shard.id))).toEqual(before);
      });

      it('throws SHARD_NOT_FOUND for an unknown shard and writes nothing', async () => {
        const shardId = newShardId();
        await expectAppError(
          repo.applySync({ shardId, lastSyncTimestamp: 1, upserts: [toUpsert(makeFile('a.ts', 'a'))], deletes: [] }),
          ErrorCode.SHARD_NOT_FOUND,
        );
        expect(await repo.findById(shardId)).toBeNull();
      });

      it('rejects versions that are not safe non-negative integers', async () => {
        const shard = makeShard([]);
        await repo.save(shard);
        const file = toUpsert(makeFile('a.ts', 'a'));
        for (const version of [1.5, -1, Number.NaN, 2 ** 53]) {
          await expectAppError(
            repo.applySync({ shardId: shard.id, lastSyncTimestamp: 1, upserts: [{ ...file, version }], deletes: [] }),
            ErrorCode.VALIDATION_FAILED,
          );
        }
      });
    });

    describe('applySyncs (a group of batches in one transaction)', () => {
      it('writes each batch as applySync would, with its own watermark, and reports outcomes in order', async () => {
        const [a, b] = [makeFile('a.ts', 'a', 1), makeFile('b.ts', 'b', 1)];
        const first = makeShard([a], { lastSyncTimestamp: 1 });
        const second = makeShard([b], { lastSyncTimestamp: 1 });
        await repo.save(first);
        await repo.save(second);
        const batches: SyncBatch[] = [
          {
            shardId: second.id,
            lastSyncTimestamp: 7,
            upserts: [toUpsert({ ...b, content: 'b7', ydocState: yjsState('b7'), version: 7 })],
            deletes: [],
          },
          {
            shardId: first.id,
            lastSyncTimestamp: 3,
            upserts: [toUpsert({ ...a, content: 'a3', ydocState: yjsState('a3'), version: 3 })],
            deletes: [],
          },
        ];

        const outcomes = await repo.applySyncs(batches);

        expect(outcomes).toEqual([
          { ok: true, result: { written: 1, deleted: 0, skipped: 0 } },
          { ok: true, result: { written: 1, deleted: 0, skipped: 0 } },
        ]);
        const [afterFirst, afterSecond] = [await stored(first.id), await stored(second.id)];
        expect(afterFirst.lastSyncTimestamp).toBe(3);
        expect(fileOf(afterFirst, a.id)).toMatchObject({ content: 'a3', version: 3 });
        expect(afterSecond.lastSyncTimestamp).toBe(7);
        expect(fileOf(afterSecond, b.id)).toMatchObject({ content: 'b7', version: 7 });
        // Replayed, the group changes nothing.
        expect(await repo.applySyncs(batches)).toEqual([
          { ok: true, result: { written: 0, deleted: 0, skipped: 1 } },
          { ok: true, result: { written: 0, deleted: 0, skipped: 1 } },
        ]);
      });

      it('fails a batch alone: an unknown shard, an invalid batch and a batch failing halfway leave the others written', async () => {
        const kept = makeFile('kept.ts', 'kept', 1);
        const broken = makeShard([kept], { lastSyncTimestamp: 1 });
        const good = makeShard([makeFile('g.ts', 'g', 1)], { lastSyncTimestamp: 1 });
        await repo.save(broken);
        await repo.save(good);
        const brokenBefore = comparable(await repo.findById(broken.id));
        const unknown = newShardId();
        const created = makeFile('new.ts', 'new', 2);
        // Enough rows for several statements; the last one violates NOT NULL in the database.
        const valid = Array.from({ length: 250 }, (_, i) => toUpsert(makeFile(`gen/f${i}.ts`, `// ${i}`, 2)));
        const nullPath = { ...toUpsert(makeFile('broken.ts', 'x', 2)), path: null as unknown as string };

        const outcomes = await repo.applySyncs([
          { shardId: unknown, lastSyncTimestamp: 2, upserts: [toUpsert(makeFile('a.ts', 'a'))], deletes: [] },
          { shardId: broken.id, lastSyncTimestamp: 2, upserts: [...valid, nullPath], deletes: [] },
          { shardId: good.id, lastSyncTimestamp: 2, upserts: [toUpsert(created)], deletes: [] },
          { shardId: good.id, lastSyncTimestamp: 1.5, upserts: [], deletes: [] },
        ]);

        expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual([
          ErrorCode.SHARD_NOT_FOUND,
          expect.any(String),
          'ok',
          ErrorCode.VALIDATION_FAILED,
        ]);
        expect(outcomes[1]?.ok).toBe(false);
        expect(await repo.findById(unknown)).toBeNull();
        expect(comparable(await repo.findById(broken.id))).toEqual(brokenBefore);
        const after = await stored(good.id);
        expect(after.lastSyncTimestamp).toBe(2);
        expect(fileOf(after, created.id)).toMatchObject({ content: 'new', version: 2 });
      });
    });

    describe('writeTree', () => {
      it('inserts new files empty, moves and deletes stored ones, and keeps every text', async () => {
        const [a, b, c] = [makeFile('a.ts', 'a', 1), makeFile('b.ts', 'b', 1), makeFile('c.ts', 'c', 1)];
        const shard = makeShard([a, b, c], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const created = newFileId();

        const result = await repo.writeTree({
          shardId: shard.id,
          version: 4,
          files: [
            { id: a.id, path: 'a.ts' },
            { id: b.id, path: 'src/b.ts' },
            { id: created, path: 'new.ts' },
          ],
        });

        expect(result).toEqual({ applied: true, inserted: 1, moved: 1, deleted: 1 });
        const after = await stored(shard.id);
        expect(after.treeVersion).toBe(4);
        expect(after.lastSyncTimestamp).toBe(1);
        expect(after.files.map((f) => [f.path, f.content, f.version])).toEqual([
          ['a.ts', 'a', 1],
          ['new.ts', '', 0],
          ['src/b.ts', 'b', 1],
        ]);
        expect(textOf(fileOf(after, created).ydocState)).toBe('');
      });

      it('writes nothing when the stored tree is as new or newer', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        await repo.writeTree({ shardId: shard.id, version: 6, files: [{ id: a.id, path: 'b.ts' }] });

        // A tree read earlier (another instance's write arriving late) does not take the path back.
        const late = await repo.writeTree({ shardId: shard.id, version: 5, files: [{ id: a.id, path: 'a.ts' }] });
        const again = await repo.writeTree({ shardId: shard.id, version: 6, files: [] });

        expect(late).toEqual({ applied: false, inserted: 0, moved: 0, deleted: 0 });
        expect(again.applied).toBe(false);
        const after = await stored(shard.id);
        expect(after.files.map((f) => f.path)).toEqual(['b.ts']);
        expect(after.treeVersion).toBe(6);
      });

      it('writes nothing, replies included, when its load check says the load is gone', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        let asked = 0;
        const result = await repo.writeTree(
          {
            shardId: shard.id,
            version: 6,
            files: [{ id: a.id, path: 'b.ts' }],
            ops: [{ opId: 'op-gone', reply: '{}' }],
          },
          { current: async () => (asked++, false) },
        );
        expect(result).toEqual({ applied: false, inserted: 0, moved: 0, deleted: 0, stale: true });
        expect(asked).toBe(1);
        const after = await stored(shard.id);
        expect(after.files.map((f) => f.path)).toEqual(['a.ts']);
        expect(after.treeVersion).toBe(0);
        expect(await repo.recentOpReplies(shard.id)).toEqual([]);
        // Said yes, the same write goes in.
        const written = await repo.writeTree(
          { shardId: shard.id, version: 6, files: [{ id: a.id, path: 'b.ts' }] },
          { current: async () => true },
        );
        expect(written).toMatchObject({ applied: true, moved: 1 });
      });

      it('stores the replies of file operations with a tree, even an older one, and keeps the first of each', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        expect(await repo.recentOpReplies(shard.id)).toEqual([]);
        await repo.writeTree({
          shardId: shard.id,
          version: 3,
          files: [{ id: a.id, path: 'b.ts' }],
          ops: [{ opId: 'op-rename-1', reply: '{"v":3}' }],
        });
        // An older tree (another instance's, late) still brings its replies; a reply stored
        // already stays as it was.
        const late = await repo.writeTree({
          shardId: shard.id,
          version: 2,
          files: [{ id: a.id, path: 'a.ts' }],
          ops: [
            { opId: 'op-create-2', reply: '{"v":2}' },
            { opId: 'op-rename-1', reply: '{"v":99}' },
          ],
        });
        expect(late.applied).toBe(false);
        const replies = await repo.recentOpReplies(shard.id);
        expect(replies.map((r) => [r.opId, r.reply]).sort()).toEqual([
          ['op-create-2', '{"v":2}'],
          ['op-rename-1', '{"v":3}'],
        ]);
        // Per shard.
        const other = makeShard([makeFile('x.ts', 'x', 1)], { lastSyncTimestamp: 5 });
        await repo.save(other);
        expect(await repo.recentOpReplies(other.id)).toEqual([]);
        // A tree older than the last sync writes nothing; with replies, tree_version says the rows
        // hold a tree that new (a load reads replies only when it is above 0).
        await repo.writeTree({ shardId: other.id, version: 4, files: [] });
        expect((await stored(other.id)).treeVersion).toBe(0);
        expect(
          await repo.writeTree({ shardId: other.id, version: 4, files: [], ops: [{ opId: 'op-x', reply: '{}' }] }),
        ).toEqual({ applied: false, inserted: 0, moved: 0, deleted: 0 });
        expect(await stored(other.id)).toMatchObject({ treeVersion: 4, lastSyncTimestamp: 5 });
        expect((await stored(other.id)).files.map((f) => f.path)).toEqual(['x.ts']);
        expect((await repo.recentOpReplies(other.id)).map((r) => r.opId)).toEqual(['op-x']);
        // They go with the shard.
        expect(await repo.delete(shard.id)).toBe(true);
        await repo.save({ ...shard, files: [] });
        expect(await repo.recentOpReplies(shard.id)).toEqual([]);
      });

      it('stores the replies a sync batch carries, raising tree_version to its watermark when below', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        // Replies of operations whose tree was never written through come with the sync instead.
        const withText = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 5,
          upserts: [toUpsert({ ...a, path: 'moved.ts', content: 'a2', ydocState: yjsState('a2'), version: 5 })],
          deletes: [],
          ops: [{ opId: 'op-moved', reply: '{"v":"5"}' }],
        });
        expect(withText.written).toBe(1);
        expect(await stored(shard.id)).toMatchObject({ lastSyncTimestamp: 5, treeVersion: 5 });
        expect((await repo.recentOpReplies(shard.id)).map((r) => [r.opId, r.reply])).toEqual([
          ['op-moved', '{"v":"5"}'],
        ]);
        // A batch with nothing but replies (its files written already); the first reply of an opId stays.
        const onlyReplies = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 7,
          upserts: [],
          deletes: [],
          ops: [
            { opId: 'op-moved', reply: '{"v":"99"}' },
            { opId: 'op-later', reply: '{"v":"7"}' },
          ],
        });
        expect(onlyReplies).toEqual({ written: 0, deleted: 0, skipped: 0 });
        expect(await stored(shard.id)).toMatchObject({ lastSyncTimestamp: 7, treeVersion: 7 });
        expect((await repo.recentOpReplies(shard.id)).map((r) => [r.opId, r.reply]).sort()).toEqual([
          ['op-later', '{"v":"7"}'],
          ['op-moved', '{"v":"5"}'],
        ]);
        // A late batch (below the stored tree) still brings its replies and leaves tree_version.
        await repo.writeTree({ shardId: shard.id, version: 9, files: [{ id: a.id, path: 'moved.ts' }] });
        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 8,
          upserts: [],
          deletes: [],
          ops: [{ opId: 'op-late', reply: '{"v":"8"}' }],
        });
        expect(await stored(shard.id)).toMatchObject({ lastSyncTimestamp: 8, treeVersion: 9 });
        expect((await repo.recentOpReplies(shard.id)).map((r) => r.opId).sort()).toEqual([
          'op-late',
          'op-later',
          'op-moved',
        ]);
        // Without replies a sync leaves tree_version alone.
        await repo.applySync({ shardId: shard.id, lastSyncTimestamp: 12, upserts: [], deletes: [] });
        expect(await stored(shard.id)).toMatchObject({ lastSyncTimestamp: 12, treeVersion: 9 });
      });

      it('reads a shard for a load with its operation replies, from one snapshot', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        expect(await repo.findForLoad(newShardId())).toBeNull();
        // No tree written yet: no replies to read.
        expect(await repo.findForLoad(shard.id)).toMatchObject({
          shard: { id: shard.id, treeVersion: 0 },
          opReplies: [],
        });
        await repo.writeTree({
          shardId: shard.id,
          version: 3,
          files: [{ id: a.id, path: 'b.ts' }],
          ops: [{ opId: 'op-load', reply: '{"v":"3"}' }],
        });
        const read = await repo.findForLoad(shard.id);
        expect(read?.shard).toEqual(await repo.findById(shard.id));
        expect(read?.shard.files.map((f) => f.path)).toEqual(['b.ts']);
        expect(read?.opReplies).toEqual([{ opId: 'op-load', reply: '{"v":"3"}' }]);
      });

      it('forgets operation replies after a day', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const started = Date.now();
        vi.useFakeTimers({ toFake: ['Date'], now: started });
        try {
          await repo.writeTree({ shardId: shard.id, version: 2, files: [], ops: [{ opId: 'op-old', reply: '{}' }] });
          vi.setSystemTime(started + OP_REPLY_TTL_MS - 60_000);
          await repo.writeTree({ shardId: shard.id, version: 3, files: [], ops: [{ opId: 'op-new', reply: '{}' }] });
          expect((await repo.recentOpReplies(shard.id)).map((r) => r.opId)).toEqual(['op-new', 'op-old']);
          vi.setSystemTime(started + OP_REPLY_TTL_MS + 60_000);
          // Past a day: not loaded any more, and deleted by the pruning pass.
          expect((await repo.recentOpReplies(shard.id)).map((r) => r.opId)).toEqual(['op-new']);
          expect(await repo.pruneOpReplies()).toBeGreaterThanOrEqual(1);
          expect(await repo.pruneOpReplies()).toBe(0);
          vi.setSystemTime(started);
          expect((await repo.recentOpReplies(shard.id)).map((r) => r.opId)).toEqual(['op-new']);
        } finally {
          vi.useRealTimers();
        }
      });

      it('lets a sync batch older than the stored tree write only the text of files that still exist', async () => {
        const [a, b] = [makeFile('a.ts', 'a', 1), makeFile('b.ts', 'b', 1)];
        const shard = makeShard([a, b], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        // Snapshot at 5: a was typed in at 3, c created at 4, b deleted at 5. Before the batch
        // commits, renames at 6 and 7 (a → moved.ts, c → c2.ts) are written through.
        const c = makeFile('c.ts', 'c', 4);
        await repo.writeTree({
          shardId: shard.id,
          version: 7,
          files: [
            { id: a.id, path: 'moved.ts' },
            { id: c.id, path: 'c2.ts' },
          ],
        });

        const result = await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 5,
          upserts: [toUpsert({ ...a, content: 'a typed', ydocState: yjsState('a typed'), version: 3 }), toUpsert(c)],
          deletes: [{ id: b.id, version: 5 }],
        });

        expect(result).toEqual({ written: 2, deleted: 0, skipped: 1 });
        const after = await stored(shard.id);
        expect(after.lastSyncTimestamp).toBe(5);
        expect(after.treeVersion).toBe(7);
        expect(after.files.map((f) => [f.path, f.content, f.version])).toEqual([
          ['c2.ts', 'c', 4],
          ['moved.ts', 'a typed', 3],
        ]);
      });

      it('never brings back a file the stored tree deleted, from a sync batch read before the deletion', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        await repo.writeTree({ shardId: shard.id, version: 4, files: [] });

        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 3,
          upserts: [toUpsert({ ...a, content: 'a2', ydocState: yjsState('a2'), version: 2 })],
          deletes: [],
        });

        expect((await stored(shard.id)).files).toEqual([]);
      });

      it('ignores a tree read before the last sync batch was, written after it', async () => {
        const a = makeFile('a.ts', 'a', 1);
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        await repo.writeTree({ shardId: shard.id, version: 2, files: [{ id: a.id, path: 'b.ts' }] });
        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 9,
          upserts: [toUpsert({ ...a, path: 'c.ts', content: 'a9', ydocState: yjsState('a9'), version: 9 })],
          deletes: [],
        });

        const late = await repo.writeTree({ shardId: shard.id, version: 8, files: [{ id: a.id, path: 'b.ts' }] });

        expect(late.applied).toBe(false);
        const after = await stored(shard.id);
        expect(after.treeVersion).toBe(2);
        expect(after.files.map((f) => [f.path, f.content])).toEqual([['c.ts', 'a9']]);
      });

      it('inserts a new binary file as binary, and a sync older than the tree brings its bytes', async () => {
        const shard = makeShard([], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const id = newFileId();
        await repo.writeTree({ shardId: shard.id, version: 5, files: [{ id, path: 'logo.png', kind: 'binary' }] });
        expect(fileOf(await stored(shard.id), id)).toMatchObject({ kind: 'binary', version: 0 });

        const bytes = new Uint8Array([137, 80, 78, 71]);
        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 4,
          upserts: [{ id, path: 'logo.png', content: '', ydocState: bytes, version: 3, kind: 'binary' }],
          deletes: [],
        });

        const file = fileOf(await stored(shard.id), id);
        expect(file).toMatchObject({ kind: 'binary', version: 3, path: 'logo.png' });
        expect(Array.from(file.ydocState)).toEqual(Array.from(bytes));
      });

      it('throws SHARD_NOT_FOUND for an unknown shard, and VALIDATION_FAILED for a path listed twice', async () => {
        await expectAppError(
          repo.writeTree({ shardId: newShardId(), version: 1, files: [] }),
          ErrorCode.SHARD_NOT_FOUND,
        );
        const shard = makeShard([]);
        await repo.save(shard);
        await expectAppError(
          repo.writeTree({
            shardId: shard.id,
            version: 1,
            files: [
              { id: newFileId(), path: 'x.ts' },
              { id: newFileId(), path: 'x.ts' },
            ],
          }),
          ErrorCode.VALIDATION_FAILED,
        );
      });
    });

    describe('checkpoints', () => {
      const alice = { userId: 'u-alice', name: 'Alice' };
      const bob = { userId: 'u-bob', name: 'Bob' };

      async function textsAt(shardId: ShardId, seq: number): Promise<Record<string, string>> {
        const cp = await repo.findCheckpoint(shardId, seq);
        if (cp === null) throw new Error(`checkpoint ${seq} should exist`);
        const states = await repo.readCheckpointFiles(
          shardId,
          seq,
          cp.tree.map((e) => e.id),
        );
        return Object.fromEntries(cp.tree.map((e) => [e.path, textOf(states.get(e.id) ?? new Uint8Array())]));
      }

      async function edit(
        shard: Shard,
        file: StoredFile,
        text: string,
        version: number,
        state = yjsState(text),
      ): Promise<void> {
        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: version,
          upserts: [toUpsert({ ...file, content: text, ydocState: state, version })],
          deletes: [],
        });
      }

      it('stores every file first, then only the files that changed, and nothing when nothing changed', async () => {
        const files = Array.from({ length: 20 }, (_, i) => makeFile(`src/f${i}.ts`, `file ${i} `.repeat(50)));
        const shard = makeShard(files);
        await repo.save(shard);

        const first = await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        expect(first).toMatchObject({ seq: 1, reason: 'created', filesChanged: 20, label: null });
        expect(first?.storedBytes).toBe(files.reduce((sum, f) => sum + f.ydocState.byteLength, 0));

        expect(await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [] })).toBeNull();

        const changed = yjsState('changed text');
        await edit(shard, files[3] as StoredFile, 'changed text', 5, changed);
        const second = await repo.createCheckpoint({
          shardId: shard.id,
          reason: 'interval',
          authors: [alice, bob, alice],
        });
        expect(second).toMatchObject({ seq: 2, filesChanged: 1, storedBytes: changed.byteLength, version: 5 });
        expect(second?.authors).toEqual([alice, bob]);

        const named = await repo.createCheckpoint({
          shardId: shard.id,
          reason: 'named',
          label: 'release 1',
          authors: [],
          force: true,
        });
        expect(named).toMatchObject({ seq: 3, filesChanged: 0, storedBytes: 0, label: 'release 1' });
      });

      it('reads each file as it was at any checkpoint, and records renames and deletes in the tree', async () => {
        const a = makeFile('a.ts', 'a one');
        const b = makeFile('dir/b.ts', 'b one');
        const shard = makeShard([a, b]);
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        await edit(shard, a, 'a two', 2);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [] });
        await repo.applySync({
          shardId: shard.id,
          lastSyncTimestamp: 3,
          upserts: [toUpsert({ ...a, path: 'renamed.ts', content: 'a two', ydocState: yjsState('a two'), version: 3 })],
          deletes: [{ id: b.id, version: 3 }],
        });
        const third = await repo.createCheckpoint({ shardId: shard.id, reason: 'before-delete', authors: [] });
        expect(third?.seq).toBe(3);

        expect(await textsAt(shard.id, 1)).toEqual({ 'a.ts': 'a one', 'dir/b.ts': 'b one' });
        expect(await textsAt(shard.id, 2)).toEqual({ 'a.ts': 'a two', 'dir/b.ts': 'b one' });
        expect(await textsAt(shard.id, 3)).toEqual({ 'renamed.ts': 'a two' });
        const cp3 = await repo.findCheckpoint(shard.id, 3);
        expect(cp3?.tree).toEqual([{ id: a.id, path: 'renamed.ts', version: 3 }]);
        expect(await repo.findCheckpoint(shard.id, 99)).toBeNull();
        expect((await repo.latestCheckpoint(shard.id))?.seq).toBe(3);
      });

      it('records pending states of files about to be deleted in place of the stored ones', async () => {
        const a = makeFile('a.ts', 'stored a', 0);
        const b = makeFile('b.ts', 'stored b', 0);
        const shard = makeShard([a, b]);
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        const cp = await repo.createCheckpoint({
          shardId: shard.id,
          reason: 'before-delete',
          authors: [],
          pending: [
            { id: a.id, version: 4, ydocState: yjsState('edited a, only in redis') },
            { id: newFileId(), version: 4, ydocState: yjsState('not in the database') },
          ],
        });
        expect(cp).toMatchObject({ seq: 2, filesChanged: 1 });
        expect(await textsAt(shard.id, 2)).toEqual({ 'a.ts': 'edited a, only in redis', 'b.ts': 'stored b' });
      });

      it('lists newest first, page by page', async () => {
        const file = makeFile('a.ts', 'v0', 0);
        const shard = makeShard([file]);
        await repo.save(shard);
        for (let v = 1; v <= 5; v++) {
          await edit(shard, file, `v${v}`, v);
          await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [] });
        }
        const page1 = await repo.listCheckpoints(shard.id, { limit: 2 });
        expect(page1.map((c) => c.seq)).toEqual([5, 4]);
        const page2 = await repo.listCheckpoints(shard.id, { limit: 2, beforeSeq: 4 });
        expect(page2.map((c) => c.seq)).toEqual([3, 2]);
        const page3 = await repo.listCheckpoints(shard.id, { limit: 2, beforeSeq: 2 });
        expect(page3.map((c) => c.seq)).toEqual([1]);
        expect(await repo.listCheckpoints(newShardId(), { limit: 10 })).toEqual([]);
      });

      it('skips a checkpoint younger than minIntervalMs and refuses an unknown shard', async () => {
        const file = makeFile('a.ts', 'v0', 0);
        const shard = makeShard([file]);
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        await edit(shard, file, 'v1', 1);
        const input = { shardId: shard.id, reason: 'interval', authors: [] } as const;
        expect(await repo.createCheckpoint({ ...input, minIntervalMs: 60_000 })).toBeNull();
        expect(await repo.createCheckpoint({ ...input, minIntervalMs: 0 })).toMatchObject({ seq: 2 });
        await expectAppError(repo.createCheckpoint({ ...input, shardId: newShardId() }), ErrorCode.SHARD_NOT_FOUND);
      });

      it('gives concurrent checkpoints of one shard on two instances distinct seqs', async () => {
        const file = makeFile('a.ts', 'v0', 0);
        const shard = makeShard([file]);
        await repo.save(shard);
        const other = await open();
        try {
          const results = await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
              (i % 2 === 0 ? repo : other.repo).createCheckpoint({
                shardId: shard.id,
                reason: 'named',
                label: `n${i}`,
                authors: [],
                force: true,
              }),
            ),
          );
          expect(results.map((r) => r?.seq).sort()).toEqual([1, 2, 3, 4, 5, 6]);
        } finally {
          await other.cleanup();
        }
      });

      it('prunes what the policy drops, keeps named and newest ones, and every kept checkpoint reads the same', async () => {
        const files = [makeFile('a.ts', 'a0', 0), makeFile('b.ts', 'b0', 0), makeFile('c.ts', 'c0', 0)];
        const shard = makeShard(files);
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [alice] });
        await edit(shard, files[0] as StoredFile, 'a1', 1);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [bob] });
        await repo.createCheckpoint({ shardId: shard.id, reason: 'named', label: 'keep me', authors: [], force: true });
        await edit(shard, files[1] as StoredFile, 'b2', 2);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [] });
        await edit(shard, files[0] as StoredFile, 'a3', 3);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'interval', authors: [] });
        const before3 = await textsAt(shard.id, 3);
        const before5 = await textsAt(shard.id, 5);

        // Nothing is old yet.
        const policy = { keepAllMs: 7 * 86_400_000, keepDailyMs: 90 * 86_400_000 };
        expect((await repo.pruneCheckpoints(policy, { shardId: shard.id })).deleted).toBe(0);

        const later = new Date(Date.now() + 200 * 86_400_000);
        const result = await repo.pruneCheckpoints(policy, { now: later, shardId: shard.id });
        expect(result.deleted).toBe(3);
        const left = await repo.listCheckpoints(shard.id, { limit: 10 });
        expect(left.map((c) => c.seq)).toEqual([5, 3]);
        expect(left[1]?.authors).toEqual([alice, bob]);
        expect(await textsAt(shard.id, 3)).toEqual(before3);
        expect(await textsAt(shard.id, 5)).toEqual(before5);
        expect(await textsAt(shard.id, 5)).toEqual({ 'a.ts': 'a3', 'b.ts': 'b2', 'c.ts': 'c0' });
        // Idempotent.
        expect((await repo.pruneCheckpoints(policy, { now: later, shardId: shard.id })).deleted).toBe(0);
      });

      it('keeps a binary file as its bytes and says so in the tree', async () => {
        const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);
        const logo = makeFile('logo.png', '', 1, { kind: 'binary', ydocState: bytes });
        const shard = makeShard([makeFile('a.ts', 'a'), logo], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        const cp = await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        const stored = await repo.findCheckpoint(shard.id, cp?.seq ?? 0);
        expect(stored?.tree.map((e) => [e.path, e.kind])).toEqual([
          ['a.ts', undefined],
          ['logo.png', 'binary'],
        ]);
        const states = await repo.readCheckpointFiles(shard.id, cp?.seq ?? 0, [logo.id]);
        expect(new Uint8Array(states.get(logo.id) ?? [])).toEqual(bytes);
      });

      it('records nothing with onlyIfStored when the database holds none of those files', async () => {
        const a = makeFile('a.ts', 'a');
        const shard = makeShard([a], { lastSyncTimestamp: 1 });
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        const pending = [{ id: a.id, version: 2, ydocState: yjsState('a, edited') }];
        const gone = [newFileId()];
        expect(
          await repo.createCheckpoint({
            shardId: shard.id,
            reason: 'before-delete',
            authors: [],
            pending,
            onlyIfStored: gone,
          }),
        ).toBeNull();
        const before = await repo.createCheckpoint({
          shardId: shard.id,
          reason: 'before-delete',
          authors: [],
          pending,
          onlyIfStored: [...gone, a.id],
        });
        expect(before?.seq).toBe(2);
        expect(await textsAt(shard.id, 2)).toEqual({ 'a.ts': 'a, edited' });
      });

      it('deletes the checkpoints with the shard', async () => {
        const shard = makeShard([makeFile('a.ts', 'a')]);
        await repo.save(shard);
        await repo.createCheckpoint({ shardId: shard.id, reason: 'created', authors: [] });
        expect(await repo.delete(shard.id)).toBe(true);
        await repo.save({ ...shard, files: [] });
        expect(await repo.listCheckpoints(shard.id, { limit: 10 })).toEqual([]);
      });
    });

    describe('owners, listing and renaming', () => {
      /** Every page of a listing, following the cursor (the last row of each page). */
      async function allPages(filter: ShardListFilter, limit: number): Promise<ShardMeta[][]> {
        const pages: ShardMeta[][] = [];
        let after: ShardListCursor | undefined;
        for (;;) {
          const page = await repo.list(filter, { limit, after });
          if (page.length === 0) return pages;
          pages.push(page);
          const last = page[page.length - 1] as ShardMeta;
          after = { updatedAt: last.updatedAt, id: last.id };
        }
      }

      it('keeps the owner, and null for a shard without one', async () => {
        const owned = makeShard([], { ownerId: `owner-${randomUUID()}` });
        const orphan = makeShard([], { ownerId: null });
        await repo.save(owned);
        await repo.save(orphan);
        expect((await repo.findMetaById(owned.id))?.ownerId).toBe(owned.ownerId);
        expect((await repo.findMetaById(orphan.id))?.ownerId).toBeNull();
      });

      it("lists a user's own shards and the ones named, most recently updated first, page by page", async () => {
        const owner = `owner-${randomUUID()}`;
        const at = (minutes: number) => new Date(Date.UTC(2025, 5, 1, 12, minutes, 0, 321));
        const mine = [0, 5, 3, 3, 9].map((m) => makeShard([], { ownerId: owner, updatedAt: at(m) }));
        const named = makeShard([], { ownerId: 'someone-else', updatedAt: at(4) });
        const hidden = makeShard([], { ownerId: 'someone-else', updatedAt: at(7) });
        for (const shard of [...mine, named, hidden]) await repo.save(shard);

        const expected = [...mine, named]
          .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : -1))
          .map((s) => s.id);
        const filter: ShardListFilter = { kind: 'visible', ownerId: owner, shardIds: [named.id, newShardId()] };
        const pages = await allPages(filter, 2);
        expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
        expect(pages.flat().map((s) => s.id)).toEqual(expected);
        expect(pages.flat().find((s) => s.id === named.id)?.ownerId).toBe('someone-else');
        // Without names: only the owner's own.
        const own = await repo.list({ kind: 'visible', ownerId: owner, shardIds: [] }, { limit: 100 });
        expect(own.map((s) => s.id)).toEqual(expected.filter((id) => id !== named.id));
      });

      it('lists every shard for the "all" filter, each once, in order', async () => {
        const extra = [makeShard([]), makeShard([]), makeShard([])];
        for (const shard of extra) await repo.save(shard);
        const seen = (await allPages({ kind: 'all' }, 3)).flat();
        expect(new Set(seen.map((s) => s.id)).size).toBe(seen.length);
        for (const shard of extra) expect(seen.map((s) => s.id)).toContain(shard.id);
        for (let i = 1; i < seen.length; i++) {
          const [prev, cur] = [seen[i - 1] as ShardMeta, seen[i] as ShardMeta];
          const order = prev.updatedAt.getTime() - cur.updatedAt.getTime() || (prev.id > cur.id ? 1 : -1);
          expect(order).toBeGreaterThan(0);
        }
      });

      it('renames a shard and moves its updated time, or returns null for no shard', async () => {
        const shard = makeShard([makeFile('a.ts', 'a')]);
        await repo.save(shard);
        const renamed = await repo.rename(shard.id, 'Neuer Name ✨');
        expect(renamed?.name).toBe('Neuer Name ✨');
        expect(renamed?.updatedAt.getTime()).toBeGreaterThan(shard.updatedAt.getTime());
        const again = await stored(shard.id);
        expect(again.name).toBe('Neuer Name ✨');
        expect(again.files.map((f) => f.content)).toEqual(['a']);
        expect(await repo.rename(newShardId(), 'x')).toBeNull();
      });

      it('touches shards changed live: their updated time moves forward only, unknown ids are skipped', async () => {
        const owner = `owner-${randomUUID()}`;
        const at = (minutes: number) => new Date(Date.UTC(2025, 6, 1, 12, minutes, 0, 123));
        const shards = [1, 2, 3].map((m) => makeShard([makeFile('a.ts', 'a')], { ownerId: owner, updatedAt: at(m) }));
        for (const shard of shards) await repo.save(shard);
        const [old, mid, recent] = shards as [Shard, Shard, Shard];
        const filter: ShardListFilter = { kind: 'visible', ownerId: owner, shardIds: [] };
        const listed = async () => (await repo.list(filter, { limit: 10 })).map((s) => s.id);
        expect(await listed()).toEqual([recent.id, mid.id, old.id]);

        // `old` was edited after `recent`; `mid`'s report is older than its stored time.
        const moved = await repo.touch(
          new Map([
            [old.id, at(4)],
            [mid.id, at(0)],
            [newShardId(), at(5)],
          ]),
        );
        expect(moved).toBe(1);
        expect(await listed()).toEqual([old.id, recent.id, mid.id]);
        expect((await repo.findMetaById(old.id))?.updatedAt.getTime()).toBe(at(4).getTime());
        expect((await repo.findMetaById(mid.id))?.updatedAt.getTime()).toBe(at(2).getTime());
        expect(await repo.findMetaById(newShardId())).toBeNull();
        expect((await stored(old.id)).files.map((f) => f.content)).toEqual(['a']);
        expect(await repo.touch(new Map())).toBe(0);
      });
    });

    describe('delete', () => {
      it('deletes the shard and its files, and reports whether it existed', async () => {
        const shard = makeShard([makeFile('a.ts', 'a'), makeFile('b.ts', 'b')]);
        await repo.save(shard);

        expect(await repo.delete(shard.id)).toBe(true);
        expect(await repo.findById(shard.id)).toBeNull();
        expect(await repo.delete(shard.id)).toBe(false);
        // Re-create the id without files: rows left behind by a missing cascade would reappear.
        await repo.save({ ...shard, files: [] });
        expect((await stored(shard.id)).files).toEqual([]);
      });
    });

    describe('several instances', () => {
      it('migrates again, also concurrently, without harm', async () => {
        const shard = makeShard([makeFile('a.ts', 'a')]);
        await repo.save(shard);
        const [first, second] = await Promise.all([open(), open()]);
        try {
          await Promise.all([repo.migrate(), first.repo.migrate(), second.repo.migrate()]);
          expect(comparable(await first.repo.findById(shard.id))).toEqual(comparable(shard));
        } finally {
          await Promise.all([first.cleanup(), second.cleanup()]);
        }
      });

      it('ends consistent when two instances sync one shard at once', async () => {
        const files = Array.from({ length: 8 }, (_, i) => makeFile(`src/f${i}.ts`, 'v0', 0));
        const shard = makeShard(files);
        await repo.save(shard);
        const other = await open();
        try {
          const last = 40;
          const batches = Array.from({ length: last }, (_, i): SyncBatch => {
            const version = i + 1;
            return {
              shardId: shard.id,
              lastSyncTimestamp: version,
              upserts: files.map((f) =>
                toUpsert({ ...f, content: `v${version}`, ydocState: yjsState(`v${version}`), version }),
              ),
              deletes: [],
            };
          });
          // Oldest first on one instance, newest first on the other, all at once: plenty of
          // interleaving and of stale writes to skip.
          const forward = batches.filter((_, i) => i % 2 === 0);
          const backward = batches.filter((_, i) => i % 2 === 1).reverse();
          const results = await Promise.all([
            ...forward.map((batch) => repo.applySync(batch)),
            ...backward.map((batch) => other.repo.applySync(batch)),
          ]);

          const after = await stored(shard.id);
          expect(after.lastSyncTimestamp).toBe(last);
          for (const file of after.files) {
            expect(file).toMatchObject({ version: last, content: `v${last}` });
            expect(textOf(file.ydocState)).toBe(`v${last}`);
          }
          for (const result of results) {
            expect(result.written + result.deleted + result.skipped).toBe(files.length);
          }
        } finally {
          await other.cleanup();
        }
      });
    });

    describe('close', () => {
      it('is idempotent and later calls fail with UNAVAILABLE', async () => {
        const extra = await open();
        await extra.repo.findMetaById(newShardId());
        await Promise.all([extra.repo.close(), extra.repo.close()]);
        await extra.repo.close();
        await expectAppError(extra.repo.findById(newShardId()), ErrorCode.UNAVAILABLE);
        await extra.cleanup();
      });
    });
  });
}
