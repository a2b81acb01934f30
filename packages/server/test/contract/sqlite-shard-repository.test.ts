import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { executionAsyncId } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FileId, ShardId } from '@tandem/protocol';
import Database from 'libsql';
import { pino } from 'pino';
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
import { waitFor } from '../support/wait-for.js';
import { ShardActivity } from '../../src/shard-cache/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-sqlite-'));
// A folder that does not exist yet: the repository creates it.
const contractFile = join(dir, 'contract', 'nested', 'shards.db');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openRepository(file: string): IShardRepository {
  return createShardRepository({ kind: 'sqlite', file });
}

/**
 * Another thread's connection to `file` takes the write lock and holds it for `ms` (blocking that
 * thread, as a sync thread's commit or another process's migration would); resolves once it is
 * held. Terminate the worker afterwards.
 */
async function holdWriteLock(file: string, ms: number): Promise<Worker> {
  const holder = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const db = new (require(workerData.libsql))(workerData.file, { timeout: 5000 });
     db.exec('begin immediate');
     parentPort.postMessage('locked');
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.ms);
     db.exec('commit');
     db.close();`,
    { eval: true, workerData: { file, ms, libsql: createRequire(import.meta.url).resolve('libsql') } },
  );
  await new Promise((resolveLocked) => holder.once('message', resolveLocked));
  return holder;
}

/**
 * A repository on a fresh, migrated file at `name` and a second libsql handle on the same file (a
 * sync thread's connection, as another handle sees it); the handle's transaction is rolled back
 * and both are closed after `body`.
 */
async function withSecondHandle(
  name: string,
  body: (scene: { file: string; repo: IShardRepository; other: Database.Database }) => Promise<void>,
): Promise<void> {
  const file = join(dir, name, 'shards.db');
  const repo = openRepository(file);
  let other: Database.Database | undefined;
  try {
    await repo.migrate();
    other = new Database(file, { timeout: 5000 });
    await body({ file, repo, other });
  } finally {
    if (other?.inTransaction === true) other.exec('rollback');
    other?.close();
    await repo.close();
  }
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

  it('touch without waiting gives up at once while another handle holds the write lock, and waits when asked', async () => {
    await withSecondHandle('touch-busy', async ({ file, repo, other }) => {
      const shard = makeShard([makeFile('a.ts', 'a')], { updatedAt: new Date(Date.UTC(2025, 0, 1)) });
      await repo.save(shard);
      const later = new Date(Date.UTC(2025, 0, 2));
      // A sync thread's group commit, as another connection sees it.
      other.exec('begin immediate');
      let started = performance.now();
      expect(await repo.touch(new Map([[shard.id, later]]), { wait: false })).toBeNull();
      // libsql waits synchronously: the elapsed time is how long this thread was blocked.
      expect(performance.now() - started).toBeLessThan(1000);
      expect((await repo.findMetaById(shard.id))?.updatedAt.getTime()).toBe(Date.UTC(2025, 0, 1));
      // The BEGIN that gave up left nothing running on the handle: a read transaction commits.
      // (A failed prepared BEGIN stays "in progress" in libsql, and every COMMIT on the handle
      // failed with "cannot commit transaction - SQL statements in progress" until it ran again.)
      expect((await repo.findById(shard.id))?.files.map((f) => f.path)).toEqual(['a.ts']);
      other.exec('commit');
      // The handle's busy timeout is back: a waiting write waits for a lock another thread holds
      // for 300 ms, then lands.
      const holder = await holdWriteLock(file, 300);
      started = performance.now();
      expect(await repo.touch(new Map([[shard.id, later]]))).toBe(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
      await holder.terminate();
      expect(await repo.touch(new Map([[shard.id, new Date(Date.UTC(2025, 0, 3))]]), { wait: false })).toBe(1);
    });
  });

  it("puts no hook on the thread's promises (no AsyncLocalStorage), writes and a touch that gave up included", async () => {
    // On Node 20 an AsyncLocalStorage once used runs a hook on every promise the thread makes
    // from then on (an async id each); the repository runs on the event loop, so its writes were
    // a cost of every edit (docs/benchmarks.md, change 30). Without hooks a promise continuation
    // has no async id of its own.
    const ids = async (): Promise<number[]> => {
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        await null;
        seen.push(executionAsyncId());
      }
      return seen;
    };
    expect(new Set(await ids()).size).toBe(1);
    await withSecondHandle('no-promise-hooks', async ({ repo, other }) => {
      const shard = makeShard([makeFile('a.ts', 'a')], { updatedAt: new Date(Date.UTC(2025, 0, 1)) });
      await repo.save(shard);
      other.exec('begin immediate');
      expect(await repo.touch(new Map([[shard.id, new Date(Date.UTC(2025, 0, 2))]]), { wait: false })).toBeNull();
      other.exec('commit');
      expect(await repo.touch(new Map([[shard.id, new Date(Date.UTC(2025, 0, 2))]]))).toBe(1);
    });
    expect(new Set(await ids()).size).toBe(1);
  });

  it("a migration waits for another handle's write lock and then runs (two cluster workers migrating one file)", async () => {
    const file = join(dir, 'migrate-busy', 'shards.db');
    const first = openRepository(file);
    await first.migrate();
    await first.close();
    // Another process's migration, as this one sees it: the write lock held for 300 ms. The
    // migrator's reads find its tables; its transaction's BEGIN finds the lock held.
    const holder = await holdWriteLock(file, 300);
    const second = openRepository(file);
    try {
      const started = performance.now();
      // Failed with "database migration could not start …: database is locked" before.
      await second.migrate();
      expect(performance.now() - started).toBeGreaterThanOrEqual(100);
      expect(await second.findById('00000000-0000-4000-8000-000000000000' as ShardId)).toBeNull();
    } finally {
      await holder.terminate();
      await second.close();
    }
  });

  it("a write waits for another handle's write lock without holding the thread, then lands", async () => {
    await withSecondHandle('write-busy', async ({ repo, other }) => {
      const a = makeFile('a.ts', 'a', 1);
      const shard = makeShard([a], { lastSyncTimestamp: 1 });
      await repo.save(shard);
      // A sync thread's group commit, as another connection sees it, held for 300 ms. Released by
      // a timer of this thread: a write that waited inside SQLite (busy_timeout) would hold the
      // thread, the timer could not fire, and the write would fail after 5 s.
      other.exec('begin immediate');
      const released = new Promise<void>((resolveReleased) =>
        setTimeout(() => {
          other.exec('commit');
          resolveReleased();
        }, 300),
      );
      let longestGapMs = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGapMs = Math.max(longestGapMs, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      try {
        // A file operation's tree written through, and a shard rename (a lone statement before).
        const [tree, renamed] = await Promise.all([
          repo.writeTree({ shardId: shard.id, version: 2, files: [{ id: a.id, path: 'b.ts' }] }),
          repo.rename(shard.id, 'renamed while locked'),
        ]);
        expect(tree.applied).toBe(true);
        expect(renamed?.name).toBe('renamed while locked');
      } finally {
        clearInterval(ticker);
      }
      await released;
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      // The thread went on meanwhile (the ticker's longest gap, not the 300 ms of the lock).
      expect(longestGapMs).toBeLessThan(budgetMs(100));
      expect((await repo.findById(shard.id))?.files.map((f) => f.path)).toEqual(['b.ts']);
    });
  });

  it("ShardActivity's timed flush does not wait for a held write lock: it keeps its notes and writes them once the lock is free", async () => {
    await withSecondHandle('activity-busy', async ({ repo, other }) => {
      const activity = new ShardActivity({ repository: repo, logger: pino({ level: 'silent' }), flushDelayMs: 50 });
      try {
        const shard = makeShard([makeFile('a.ts', 'a')], { updatedAt: new Date(Date.UTC(2025, 0, 1)) });
        await repo.save(shard);
        other.exec('begin immediate');
        const started = performance.now();
        activity.note(shard.id);
        // Several timed flushes run and give up meanwhile; none blocks this thread (the timer below
        // would fire late by as long as a flush waited).
        await new Promise((resolveLater) => setTimeout(resolveLater, 300));
        expect(performance.now() - started).toBeLessThan(1000);
        expect((await repo.findMetaById(shard.id))?.updatedAt.getTime()).toBe(Date.UTC(2025, 0, 1));
        other.exec('commit');
        await waitFor(
          async () => ((await repo.findMetaById(shard.id))?.updatedAt.getTime() ?? 0) > Date.UTC(2025, 0, 1),
          budgetMs(5000),
          'the kept note written',
        );
      } finally {
        await activity.close();
      }
    });
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
