import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '@tandem/protocol';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
  type TransactionSettings,
} from 'kysely';
import type Database from 'libsql';
import type { ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import { KyselyShardStore } from './kysely-shard-store.js';
import type { ShardDatabase } from './migrations.js';

/** How long a write waits for another connection's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/** The longest pause between two tries of a write whose BEGIN found the lock held. */
const BUSY_RETRY_MAX_MS = 20;

/** Options of SqliteShardRepository. */
export type SqliteShardRepositoryOptions = {
  /**
   * Path of the database file; its parent folder is created if missing. `':memory:'` opens a
   * private in-memory database (gone on close, not shared with any other handle).
   */
  file: string;
};

/**
 * IShardRepository on an embedded SQLite file (libsql, SQLite with prebuilt binaries shipped as npm
 * packages), the zero-setup default.
 *
 * Each instance opens its own handle on first use, in WAL mode with `busy_timeout` 5000 and
 * `foreign_keys=ON`. Several handles may use one file at once, from this thread, worker
 * threads or other processes: write transactions start with `BEGIN IMMEDIATE`, so a writer
 * waits for the write lock instead of failing halfway, and readers never wait for writers.
 * libsql is synchronous, and SQLite's own wait (busy_timeout) would block the calling thread:
 * the event loop, for as long as a sync thread's group commit holds the lock. So a write's
 * BEGIN IMMEDIATE does not wait (busy_timeout 0 for that statement) and the write is tried again
 * after a pause (1 ms, doubling to 20 ms, up to 5 s in all) without holding the thread. Handles
 * of one file in the same thread also queue their writes in this module.
 */
export class SqliteShardRepository extends KyselyShardStore {
  readonly #writeQueueKey: string | undefined;

  constructor(options: SqliteShardRepositoryOptions) {
    super(
      new Kysely<ShardDatabase>({
        dialect: new SqliteShardDialect({
          database: async () => withStatementCache(await openDatabase(options.file)),
        }),
      }),
      'sqlite',
    );
    this.#writeQueueKey = isInMemory(options.file) ? undefined : resolve(options.file);
  }

  /**
   * `wait: false` (ShardActivity's timed flush on the event loop): BEGIN IMMEDIATE with
   * busy_timeout 0, so a sync thread's group commit holding the write lock makes it give up
   * (null) instead of blocking the event loop for as long as that transaction lasts; sync
   * threads run at a lower priority (SYNC_THREAD_NICE), so that could be long.
   */
  override async touch(changes: ReadonlyMap<ShardId, Date>, options?: { wait?: boolean }): Promise<number | null> {
    if (options?.wait !== false) return super.touch(changes);
    try {
      return await super.touch(changes, options);
    } catch (error) {
      if (isBusy(error)) return null;
      throw error;
    }
  }

  protected override withWriteLock<T>(write: () => Promise<T>, options?: { wait?: boolean | undefined }): Promise<T> {
    const tries = options?.wait === false ? write : () => retryWhileBusy(write);
    return this.#writeQueueKey === undefined ? tries() : runExclusive(this.#writeQueueKey, tries);
  }
}

function isInMemory(file: string): boolean {
  return file === ':memory:' || file === '';
}

async function openDatabase(file: string): Promise<SqliteDatabase> {
  // Loaded here, on first use: libsql loads its native binary when imported, and a server on
  // PostgreSQL needs neither.
  const { default: Libsql } = await import('libsql');
  const inMemory = isInMemory(file);
  if (!inMemory) mkdirSync(dirname(resolve(file)), { recursive: true });
  // `timeout` is busy_timeout, set on open before anything else so that even the switch to WAL
  // waits for a handle that is opening the same file in another process.
  const db = new Libsql(inMemory ? ':memory:' : file, { timeout: BUSY_TIMEOUT_MS });
  try {
    const mode = pragma(db, 'journal_mode = WAL');
    if (!inMemory && mode !== 'wal') {
      throw new AppError(
        ErrorCode.INTERNAL,
        `SQLite could not switch ${file} to WAL mode (it reports "${String(mode)}"); put the database on a local filesystem`,
      );
    }
    pragma(db, 'foreign_keys = ON');
    // Every commit is on disk before it returns (an fsync of the WAL), so "saved" survives an
    // operating-system crash or a power cut, not only the process's death. libsql's default, set
    // here so that it does not depend on the driver's build (better-sqlite3 built with NORMAL):
    // about 0.8 ms per commit on this project's 2-core VM against 0.04 ms without the fsync; a sync
    // job pays it once per group of shards (docs/benchmarks.md, change 19).
    pragma(db, 'synchronous = FULL');
    return new BufferBlobDatabase(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The first column of a pragma's first row (libsql's `pragma(…, { simple: true })` returns the row). */
function pragma(db: Database.Database, source: string): unknown {
  const row = db.prepare(`pragma ${source}`).all([])[0];
  return row === undefined ? undefined : Object.values(row as Record<string, unknown>)[0];
}

/**
 * A libsql handle as Kysely's SqliteDialect takes it, reading BLOBs back as Buffers: libsql
 * returns a non-empty BLOB as an ArrayBuffer (an empty one as a Buffer), where better-sqlite3 and
 * pg return Buffers, which is what the store and its callers take.
 */
class BufferBlobDatabase implements SqliteDatabase {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  close(): void {
    this.#db.close();
  }

  #control(sql: string): SqliteStatement {
    const db = this.#db;
    return {
      reader: false,
      all: () => {
        db.exec(sql);
        return [];
      },
      run: () => {
        db.exec(sql);
        return { changes: 0, lastInsertRowid: 0 };
      },
      iterate: () => {
        db.exec(sql);
        return [][Symbol.iterator]();
      },
    };
  }

  prepare(sql: string): SqliteStatement {
    if (TRANSACTION_CONTROL.test(sql)) return this.#control(sql);
    const statement = this.#db.prepare(sql);
    return {
      reader: statement.reader,
      // One array argument binds its elements, as better-sqlite3 does.
      all: (parameters) => statement.all([...parameters]).map(withBufferBlobs),
      run: (parameters) => statement.run([...parameters]),
      iterate: function* (parameters) {
        for (const row of statement.iterate([...parameters])) yield withBufferBlobs(row);
      },
    };
  }
}

/**
 * BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE, run through `exec`. A prepared statement that
 * failed with SQLITE_BUSY (a BEGIN IMMEDIATE that gave up waiting for the write lock) stays "in
 * progress" until it is stepped again, and libsql has no reset: every COMMIT on the handle then
 * failed with "cannot commit transaction - SQL statements in progress" (read transactions
 * included: findById answered SHARD_UNAVAILABLE). `exec` finalizes its statement even when it
 * fails. These statements take no parameters and return no rows.
 */
const TRANSACTION_CONTROL = /^\s*(begin|commit|end|rollback|savepoint|release)\b/i;

function withBufferBlobs(row: unknown): unknown {
  if (typeof row !== 'object' || row === null) return row;
  const record = row as Record<string, unknown>;
  for (const [column, value] of Object.entries(record)) {
    if (value instanceof ArrayBuffer) record[column] = Buffer.from(value);
  }
  return record;
}

/** Statements kept per handle (Kysely's queries are a few dozen texts; `in (?, ?, …)` lists vary). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The handle Kysely's driver uses, with its prepared statements kept: the driver prepares every
 * query's text again, and preparing cost more than running the query (docs/benchmarks.md,
 * optimisation 14). A statement still iterating (a streamed select) is not handed out again.
 * Least recently used texts are dropped beyond STATEMENT_CACHE_SIZE.
 */
export function withStatementCache(db: SqliteDatabase): SqliteDatabase {
  const statements = new Map<string, CachedStatement>();
  return {
    close: () => db.close(),
    prepare: (sql) => {
      const cached = statements.get(sql);
      if (cached !== undefined && !cached.busy) {
        // Re-inserted: Map order is the recency order.
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = new CachedStatement(db.prepare(sql));
      if (cached === undefined) {
        statements.set(sql, statement);
        if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      }
      return statement;
    },
  };
}

/** A prepared statement that knows whether one of its iterations is still open. */
class CachedStatement implements SqliteStatement {
  readonly reader: boolean;
  busy = false;
  readonly #statement: SqliteStatement;

  constructor(statement: SqliteStatement) {
    this.#statement = statement;
    this.reader = statement.reader;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(parameters);
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(parameters);
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    this.busy = true;
    try {
      yield* this.#statement.iterate(parameters);
    } finally {
      this.busy = false;
    }
  }
}

/** Tail of the write queue of each database file used in this thread, while writes are pending. */
const writeQueues = new Map<string, Promise<void>>();

async function runExclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = writeQueues.get(key) ?? Promise.resolve();
  let release = (): void => undefined;
  const done = new Promise<void>((resolveDone) => {
    release = resolveDone;
  });
  const tail = previous.then(() => done);
  writeQueues.set(key, tail);
  await previous;
  try {
    return await task();
  } finally {
    release();
    if (writeQueues.get(key) === tail) writeQueues.delete(key);
  }
}

/**
 * SQLITE_BUSY, also as the cause of another error: Kysely's migrator reports a BEGIN that found
 * the lock held as its result's error, which migrateToLatest wraps. Unseen, a server whose
 * cluster workers migrated a new database at once failed to start one of them ("database
 * migration could not start: database is locked") instead of trying again.
 */
function isBusy(error: unknown): boolean {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === 'SQLITE_BUSY') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, pausing between tries (1 ms, doubling
 * to BUSY_RETRY_MAX_MS) for up to BUSY_TIMEOUT_MS. Safe because a write's transaction fails at its
 * BEGIN IMMEDIATE, before any statement ran, or is rolled back whole.
 */
async function retryWhileBusy<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, BUSY_RETRY_MAX_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isBusy(error) || performance.now() + pauseMs > deadline) throw error;
      await sleep(pauseMs);
    }
  }
}

/** Kysely's SQLite dialect with the transaction behaviour described on SqliteShardRepository. */
class SqliteShardDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateTransactionSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    // A deferred transaction that reads and then writes cannot wait for the write lock: if
    // another handle committed after its first read, SQLite fails it at once (SQLITE_BUSY,
    // busy_timeout does not apply). Taking the lock at BEGIN makes writers queue instead.
    if (settings?.accessMode === 'read only') {
      await connection.executeQuery(CompiledQuery.raw('begin'));
      return;
    }
    // Fails at once with SQLITE_BUSY when another connection holds the lock: every write
    // transaction (the migration's too) begins inside withWriteLock, which tries it again after a
    // pause instead of blocking the thread in SQLite's wait. The handle is this thread's only one
    // and Kysely lends it to one query at a time, so nothing else runs with 0. (This was said with
    // an AsyncLocalStorage; on Node 20 one in use puts a hook on every promise of the thread, 6 %
    // of what the event loop allocated under load: docs/benchmarks.md, change 30.)
    await connection.executeQuery(CompiledQuery.raw('pragma busy_timeout = 0'));
    try {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    } finally {
      await connection.executeQuery(CompiledQuery.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`));
    }
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  // SQLite does run DDL in transactions. Saying so makes Kysely's migrator read the history
  // and run pending migrations in one BEGIN IMMEDIATE transaction: the cross-process
  // migration lock SQLite otherwise lacks (Kysely's SQLite lock is a no-op).
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
