import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FileId, ShardId } from '@tandem/protocol';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { createShardRepository, type IShardRepository, type SyncResult } from '../../src/persistence/index.js';
import {
  describeShardRepositoryContract,
  makeFile,
  makeShard,
  newFileId,
  textOf,
  yjsState,
} from './shard-repository.contract.js';
import { budgetMs } from '../support/time-budget.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-sqlite-'));
// A folder that does not exist yet: the repository creates it.
const contractFile = join(dir, 'contract', 'nested', 'shards.db');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openRepository(file: string): IShardRepository {
  return createShardRepository({ kind: 'sqlite', file });
}

describeShardRepositoryContract('SqliteShardRepository', () => {
  const repo = openRepository(contractFile);
  return Promise.resolve({ repo, cleanup: () => repo.close() });
});

type WorkerMessage =
  { type: 'migrated' } | { type: 'done'; results: SyncResult[] } | { type: 'failed'; message: string };

/**
 * Runs in a worker thread: opens its own SqliteShardRepository (the TypeScript source, through
 * tsx) on the same file, migrates, then writes the batches the main thread asks for.
 */
const WORKER_SCRIPT = `
import { parentPort, workerData } from 'node:worker_threads';

const pace = () => new Promise((resolve) => setTimeout(resolve, 1));

try {
  const { tsImport } = await import(workerData.tsxApiUrl);
  const { SqliteShardRepository } = await tsImport(workerData.moduleUrl, import.meta.url);
  const repo = new SqliteShardRepository({ file: workerData.file });
  await repo.migrate();
  parentPort.postMessage({ type: 'migrated' });
  parentPort.once('message', async ({ batches }) => {
    try {
      const results = [];
      for (const batch of batches) {
        results.push(await repo.applySync(batch));
        await pace();
      }
      await repo.close();
      parentPort.postMessage({ type: 'done', results });
    } catch (error) {
      parentPort.postMessage({ type: 'failed', message: String(error?.stack ?? error) });
    }
  });
} catch (error) {
  parentPort.postMessage({ type: 'failed', message: String(error?.stack ?? error) });
}
`;

/**
 * Spaces one side's batches like separate sync jobs. Back to back, one thread would take
 * SQLite's lock again within microseconds of releasing it and starve the other (its busy
 * handler sleeps in steps of milliseconds), so the two would not interleave at all.
 */
function pace(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

function nextMessage<T extends WorkerMessage['type']>(
  worker: Worker,
  type: T,
  timeoutMs: number,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`worker sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: WorkerMessage): void => {
      if (message.type === 'failed') finish(new Error(`worker failed: ${message.message}`));
      else if (message.type === type) finish(undefined, message as Extract<WorkerMessage, { type: T }>);
    };
    const onError = (error: Error): void => finish(error);
    function finish(error: Error | undefined, message?: Extract<WorkerMessage, { type: T }>): void {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (message !== undefined) resolve(message);
      else reject(error ?? new Error('worker ended'));
    }
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}

describe('SqliteShardRepository', () => {
  it('works on a private in-memory database', async () => {
    const repo = openRepository(':memory:');
    try {
      await repo.migrate();
      const shard = makeShard([makeFile('a.ts', 'in memory')]);
      await repo.save(shard);
      expect((await repo.findById(shard.id))?.files[0]?.content).toBe('in memory');
    } finally {
      await repo.close();
    }
  });

  it('uses WAL mode, so other handles read while one writes', async () => {
    const file = join(dir, 'wal', 'shards.db');
    const repo = openRepository(file);
    try {
      await repo.migrate();
      const probe = new Database(file);
      try {
        expect(probe.prepare('pragma journal_mode').all([])).toEqual([{ journal_mode: 'wal' }]);
      } finally {
        probe.close();
      }
    } finally {
      await repo.close();
    }
  });

  it('shares one file with a worker thread that migrates and writes at the same time', async () => {
    const file = join(dir, 'worker', 'shards.db');
    const scriptPath = join(dir, 'repository-worker.mjs');
    writeFileSync(scriptPath, WORKER_SCRIPT);
    const worker = new Worker(scriptPath, {
      // The worker resolves workspace packages from source, as vitest does.
      execArgv: ['--conditions=source'],
      workerData: {
        file,
        tsxApiUrl: import.meta.resolve('tsx/esm/api'),
        moduleUrl: new URL('../../src/persistence/sqlite-shard-repository.ts', import.meta.url).href,
      },
    });
    const repo = openRepository(file);
    try {
      // Both migrate a fresh file at once: BEGIN IMMEDIATE is the lock between the threads.
      await Promise.all([repo.migrate(), nextMessage(worker, 'migrated', budgetMs(10_000))]);
      const shared = makeFile('shared.ts', 'v0', 0);
      const shard = makeShard([shared]);
      await repo.save(shard);

      const rounds = 30;
      const batch = (shardId: ShardId, version: number, own: FileId) => ({
        shardId,
        lastSyncTimestamp: version,
        upserts: [
          { id: shared.id, path: shared.path, content: `v${version}`, ydocState: yjsState(`v${version}`), version },
          { id: own, path: `own/${own}.ts`, content: `by ${version}`, ydocState: yjsState(`by ${version}`), version },
        ],
        deletes: [],
      });
      // The worker takes the odd versions, this thread the even ones; each writes its own files too.
      const workerBatches = Array.from({ length: rounds }, (_, i) => batch(shard.id, 2 * i + 1, newFileId()));
      const mainBatches = Array.from({ length: rounds }, (_, i) => batch(shard.id, 2 * i + 2, newFileId()));
      const workerDone = nextMessage(worker, 'done', budgetMs(10_000));
      worker.postMessage({ batches: workerBatches });
      const mainResults: SyncResult[] = [];
      for (const b of mainBatches) {
        mainResults.push(await repo.applySync(b));
        await pace();
      }
      const { results: workerResults } = await workerDone;

      const after = await repo.findById(shard.id);
      expect(after?.lastSyncTimestamp).toBe(2 * rounds);
      expect(after?.files).toHaveLength(1 + 2 * rounds);
      const sharedAfter = after?.files.find((f) => f.id === shared.id);
      expect(sharedAfter).toMatchObject({ version: 2 * rounds, content: `v${2 * rounds}` });
      expect(textOf(sharedAfter?.ydocState ?? new Uint8Array())).toBe(`v${2 * rounds}`);
      for (const result of [...mainResults, ...workerResults]) {
        expect(result.written + result.skipped).toBe(2);
        expect(result.written).toBeGreaterThanOrEqual(1); // its own new file, at least
      }
    } finally {
      await repo.close();
      await worker.terminate();
    }
  });
});

describe('SqliteShardRepository in several worker threads', () => {
  it('three worker threads and this thread migrate and write one file at once: every write lands, none fails busy', async () => {
    const file = join(dir, 'workers', 'shards.db');
    const scriptPath = join(dir, 'repository-workers.mjs');
    writeFileSync(scriptPath, WORKER_SCRIPT);
    const workers = Array.from(
      { length: 3 },
      () =>
        new Worker(scriptPath, {
          execArgv: ['--conditions=source'],
          workerData: {
            file,
            tsxApiUrl: import.meta.resolve('tsx/esm/api'),
            moduleUrl: new URL('../../src/persistence/sqlite-shard-repository.ts', import.meta.url).href,
          },
        }),
    );
    const repo = openRepository(file);
    try {
      await Promise.all([
        repo.migrate(),
        ...workers.map((worker) => nextMessage(worker, 'migrated', budgetMs(20_000))),
      ]);
      const shared = makeFile('shared.ts', 'v0', 0);
      const shard = makeShard([shared]);
      await repo.save(shard);

      const rounds = 15;
      const threads = workers.length + 1;
      // Thread k (the workers 0..2, this thread 3) takes the versions k + 1, k + 1 + threads, …
      const batches = (k: number) =>
        Array.from({ length: rounds }, (_, i) => {
          const version = threads * i + k + 1;
          const own = newFileId();
          return {
            shardId: shard.id,
            lastSyncTimestamp: version,
            upserts: [
              { id: shared.id, path: shared.path, content: `v${version}`, ydocState: yjsState(`v${version}`), version },
              {
                id: own,
                path: `own/${own}.ts`,
                content: `by ${version}`,
                ydocState: yjsState(`by ${version}`),
                version,
              },
            ],
            deletes: [],
          };
        });
      const workersDone = workers.map((worker, k) => {
        const done = nextMessage(worker, 'done', budgetMs(20_000));
        worker.postMessage({ batches: batches(k) });
        return done;
      });
      const mainResults: SyncResult[] = [];
      for (const b of batches(workers.length)) {
        mainResults.push(await repo.applySync(b));
        await pace();
      }
      const workerResults = (await Promise.all(workersDone)).flatMap((m) => m.results);

      const last = threads * rounds;
      const after = await repo.findById(shard.id);
      expect(after?.lastSyncTimestamp).toBe(last);
      expect(after?.files).toHaveLength(1 + threads * rounds);
      const sharedAfter = after?.files.find((f) => f.id === shared.id);
      expect(sharedAfter).toMatchObject({ version: last, content: `v${last}` });
      expect(textOf(sharedAfter?.ydocState ?? new Uint8Array())).toBe(`v${last}`);
      for (const result of [...mainResults, ...workerResults]) {
        expect(result.written + result.skipped).toBe(2);
        expect(result.written).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await repo.close();
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });
});

describe('SqliteShardRepository upgrades a database of the previous release', () => {
  it('adds the owner (null for existing shards) and keeps their rows and files', async () => {
    const file = join(dir, 'upgrade.db');
    // The schema and history migration 0001 left behind, written by hand as that release did.
    const old = new Database(file);
    old.exec(`
      create table shards (id text primary key, name text not null, template_id text not null,
        template_revision integer not null, dependencies text not null, dev_dependencies text not null,
        created_at integer not null, updated_at integer not null, last_sync_timestamp integer default 0 not null);
      create table shard_files (shard_id text not null references shards (id) on delete cascade,
        file_id text not null, path text not null, content text not null, ydoc_state blob not null,
        version integer not null, updated_at integer not null,
        constraint shard_files_pkey primary key (shard_id, file_id));
      create index shard_files_shard_id_path_idx on shard_files (shard_id, path);
      create table tandem_migration (name varchar(255) not null primary key, timestamp varchar(255) not null);
      create table tandem_migration_lock (id varchar(255) not null primary key, is_locked integer default 0 not null);
      insert into tandem_migration values ('0001_create_shards', '2026-01-01T00:00:00.000Z');
      insert into tandem_migration_lock values ('migration_lock', 0);
    `);
    const shardId = '3f1c2b4a-0000-4000-8000-000000000001' as ShardId;
    const fileId = newFileId();
    old
      .prepare('insert into shards values (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(shardId, 'from 0001', 'vanilla', 1, '{}', '{}', 1_700_000_000_000, 1_700_000_000_000, 3);
    old
      .prepare('insert into shard_files values (?, ?, ?, ?, ?, ?, ?)')
      .run(shardId, fileId, 'a.txt', 'kept', Buffer.from(yjsState('kept')), 3, 1_700_000_000_000);
    old.close();

    const repo = openRepository(file);
    try {
      await repo.migrate();
      const shard = await repo.findById(shardId);
      expect(shard?.ownerId).toBeNull();
      expect(shard?.name).toBe('from 0001');
      expect(shard?.files.map((f) => [f.path, f.content, textOf(f.ydocState)])).toEqual([['a.txt', 'kept', 'kept']]);
      // Listed for admins, nobody's own.
      expect((await repo.list({ kind: 'all' }, { limit: 10 })).map((s) => s.id)).toEqual([shardId]);
      expect(await repo.list({ kind: 'visible', ownerId: 'someone', shardIds: [] }, { limit: 10 })).toEqual([]);
      await repo.save({ ...(shard as NonNullable<typeof shard>), ownerId: 'adopter' });
      expect((await repo.findMetaById(shardId))?.ownerId).toBe('adopter');
    } finally {
      await repo.close();
    }
  });
});

describe('SqliteShardRepository reads a database file written by better-sqlite3', () => {
  it("opens the previous release's file (SQLite 3.53.2, WAL) and reads and writes its shard, files, blobs and history", async () => {
    // Written by test/fixtures/make-better-sqlite3-db.ts with better-sqlite3 12.9 (see there).
    const file = join(dir, 'better-sqlite3', 'shards.db');
    rmSync(dirname(file), { recursive: true, force: true });
    mkdirSync(dirname(file), { recursive: true });
    copyFileSync(new URL('../fixtures/better-sqlite3-shards.db', import.meta.url), file);
    const shardId = '3f1c2b4a-0000-4000-8000-0000000000aa' as ShardId;
    const textId = 'f-text-0001' as FileId;
    const binaryId = 'f-binary-0001' as FileId;
    const repo = openRepository(file);
    try {
      await repo.migrate(); // nothing pending: it was at the current schema
      const shard = await repo.findById(shardId);
      expect(shard).toMatchObject({
        name: 'written by better-sqlite3',
        ownerId: 'fixture-owner',
        dependencies: { lodash: '^4.17.21' },
        lastSyncTimestamp: Number.MAX_SAFE_INTEGER,
        createdAt: new Date(Date.UTC(2026, 10, 30, 12, 0, 0, 123)),
      });
      const text = shard?.files.find((f) => f.id === textId);
      expect(text).toMatchObject({ path: 'src/main.ts', content: 'v2: ünïcödé ✓', version: 2 });
      expect(textOf(text?.ydocState ?? new Uint8Array())).toBe('v2: ünïcödé ✓');
      const binary = shard?.files.find((f) => f.id === binaryId);
      expect(binary?.kind).toBe('binary');
      expect(Buffer.isBuffer(binary?.ydocState)).toBe(true);
      expect(Array.from(binary?.ydocState ?? [])).toEqual([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);

      const [checkpoint] = await repo.listCheckpoints(shardId, { limit: 10 });
      expect(checkpoint).toMatchObject({ seq: expect.any(Number) as number, label: 'first', reason: 'named' });
      const states = await repo.readCheckpointFiles(shardId, checkpoint?.seq ?? -1, [textId]);
      expect(textOf(states.get(textId) ?? new Uint8Array())).toBe('v1');

      await repo.applySync({
        shardId,
        lastSyncTimestamp: Number.MAX_SAFE_INTEGER,
        upserts: [{ id: textId, path: 'src/main.ts', content: 'v3', ydocState: yjsState('v3'), version: 3 }],
        deletes: [],
      });
      expect((await repo.findById(shardId))?.files.find((f) => f.id === textId)?.content).toBe('v3');
    } finally {
      await repo.close();
    }
    const check = new Database(file);
    try {
      expect(check.prepare('pragma integrity_check').all([])).toEqual([{ integrity_check: 'ok' }]);
    } finally {
      check.close();
    }
  });
});
