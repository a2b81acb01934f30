import { ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import type { Insertable, Kysely, Transaction } from 'kysely';
import { AppError } from '../errors/index.js';
import {
  migrateToLatest,
  type DbTime,
  type ShardDatabase,
  type ShardFilesTable,
  type ShardsTable,
  type SqlDialectKind,
} from './migrations.js';
import type {
  IShardRepository,
  Shard,
  ShardListCursor,
  ShardListFilter,
  ShardMeta,
  SyncBatch,
  SyncResult,
  TreeWrite,
  TreeWriteResult,
} from './shard-repository.js';
import {
  assertShard,
  assertSyncBatch,
  assertTreeWrite,
  byPath,
  chunkFiles,
  chunkRows,
  latestPerFile,
  toShardMeta,
  toStoredFile,
  type FileInput,
} from './shard-rows.js';

/**
 * IShardRepository over Kysely: every query, the sync rules and the row mapping, written once
 * for PostgreSQL and SQLite. Subclasses build the Kysely instance (driver, pool or file
 * handle) and supply what truly differs: write exclusion within a process (SQLite) and the
 * schema of the migration history (PostgreSQL). The remaining dialect differences are two
 * small branches here: row locks (`FOR UPDATE`, PostgreSQL only) and how a moment is stored.
 */
export abstract class KyselyShardStore implements IShardRepository {
  protected readonly db: Kysely<ShardDatabase>;
  readonly #dialect: SqlDialectKind;
  #closed: Promise<void> | undefined;

  protected constructor(db: Kysely<ShardDatabase>, dialect: SqlDialectKind) {
    this.db = db;
    this.#dialect = dialect;
  }

  /** Runs one write transaction (or the migration). The default runs it as is; SQLite queues it per file. */
  protected withWriteLock<T>(write: () => Promise<T>): Promise<T> {
    return write();
  }

  /** The schema that holds the migration history tables, or undefined where there are no schemas. */
  protected migrationTableSchema(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  async migrate(): Promise<void> {
    this.#assertOpen();
    const migrationTableSchema = await this.migrationTableSchema();
    await this.withWriteLock(() => migrateToLatest(this.db, { dialect: this.#dialect, migrationTableSchema }));
  }

  async findMetaById(id: ShardId): Promise<ShardMeta | null> {
    this.#assertOpen();
    const row = await this.db.selectFrom('shards').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : toShardMeta(row);
  }

  async findById(id: ShardId): Promise<Shard | null> {
    this.#assertOpen();
    // One snapshot for the row and its files, so a concurrent save or sync is seen whole or not at all.
    return this.db
      .transaction()
      .setAccessMode('read only')
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const row = await trx.selectFrom('shards').selectAll().where('id', '=', id).executeTakeFirst();
        if (row === undefined) return null;
        const files = await trx.selectFrom('shard_files').selectAll().where('shard_id', '=', id).execute();
        return {
          ...toShardMeta(row),
          treeVersion: Number(row.tree_version),
          files: files.map(toStoredFile).sort(byPath),
        };
      });
  }

  async save(shard: Shard): Promise<void> {
    this.#assertOpen();
    assertShard(shard);
    const row: Insertable<ShardsTable> = {
      id: shard.id,
      name: shard.name,
      owner_id: shard.ownerId,
      template_id: shard.templateId,
      template_revision: shard.templateRevision,
      dependencies: JSON.stringify(shard.dependencies),
      dev_dependencies: JSON.stringify(shard.devDependencies),
      created_at: this.#toDbTime(shard.createdAt),
      updated_at: this.#toDbTime(shard.updatedAt),
      last_sync_timestamp: shard.lastSyncTimestamp,
    };
    await this.withWriteLock(() =>
      this.db.transaction().execute(async (trx) => {
        // The shard row first: on PostgreSQL it is the lock every writer of this shard takes first.
        await trx
          .insertInto('shards')
          .values(row)
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              name: eb.ref('excluded.name'),
              owner_id: eb.ref('excluded.owner_id'),
              template_id: eb.ref('excluded.template_id'),
              template_revision: eb.ref('excluded.template_revision'),
              dependencies: eb.ref('excluded.dependencies'),
              dev_dependencies: eb.ref('excluded.dev_dependencies'),
              created_at: eb.ref('excluded.created_at'),
              updated_at: eb.ref('excluded.updated_at'),
              last_sync_timestamp: eb.ref('excluded.last_sync_timestamp'),
            })),
          )
          .execute();
        await trx.deleteFrom('shard_files').where('shard_id', '=', shard.id).execute();
        for (const chunk of chunkFiles(shard.files)) {
          await trx
            .insertInto('shard_files')
            .values(chunk.map((file) => this.#fileRow(shard.id, file, file.updatedAt)))
            .execute();
        }
      }),
    );
  }

  async applySync(batch: SyncBatch): Promise<SyncResult> {
    this.#assertOpen();
    assertSyncBatch(batch);
    const upserts = latestPerFile(batch.upserts);
    const dependencies =
      batch.dependencies === undefined
        ? undefined
        : {
            dependencies: JSON.stringify(batch.dependencies.dependencies),
            dev_dependencies: JSON.stringify(batch.dependencies.devDependencies),
          };
    return this.withWriteLock(() =>
      this.db.transaction().execute(async (trx) => {
        const stored = await this.#readShardForUpdate(trx, batch.shardId);
        if (stored === undefined) {
          throw new AppError(
            ErrorCode.SHARD_NOT_FOUND,
            `shard ${batch.shardId} does not exist; create it before syncing its files`,
            { details: { shardId: batch.shardId } },
          );
        }
        const now = new Date();
        // A tree written through after this batch's snapshot holds newer paths and a newer set
        // of files: the batch brings only the text of files that still exist.
        const behindTree = batch.lastSyncTimestamp < Number(stored.tree_version);
        let written = 0;
        for (const chunk of chunkFiles(upserts)) {
          written += behindTree
            ? await this.#updateTextIfNotNewer(trx, batch.shardId, chunk, now)
            : await this.#upsertIfNotNewer(trx, batch.shardId, chunk, now);
        }
        let deleted = 0;
        if (!behindTree)
          for (const chunk of chunkRows(batch.deletes)) deleted += await deleteIfNotNewer(trx, batch.shardId, chunk);

        const advances = batch.lastSyncTimestamp > stored.last_sync_timestamp;
        const dependenciesChange =
          dependencies !== undefined &&
          (dependencies.dependencies !== stored.dependencies ||
            dependencies.dev_dependencies !== stored.dev_dependencies);
        // A batch that changes nothing leaves the row alone too, so replaying it is a true no-op.
        if (written + deleted > 0 || advances || dependenciesChange) {
          await trx
            .updateTable('shards')
            .set({
              ...dependencies,
              updated_at: this.#toDbTime(now),
              // Safe to compute here: the row is locked (PostgreSQL) or the database is (SQLite).
              last_sync_timestamp: Math.max(stored.last_sync_timestamp, batch.lastSyncTimestamp),
            })
            .where('id', '=', batch.shardId)
            .execute();
        }
        return { written, deleted, skipped: batch.upserts.length + batch.deletes.length - written - deleted };
      }),
    );
  }

  async writeTree(write: TreeWrite): Promise<TreeWriteResult> {
    this.#assertOpen();
    assertTreeWrite(write);
    return this.withWriteLock(() =>
      this.db.transaction().execute(async (trx) => {
        const stored = await this.#readShardForUpdate(trx, write.shardId);
        if (stored === undefined) {
          throw new AppError(ErrorCode.SHARD_NOT_FOUND, `shard ${write.shardId} does not exist`, {
            details: { shardId: write.shardId },
          });
        }
        const result: TreeWriteResult = { applied: false, inserted: 0, moved: 0, deleted: 0 };
        // A tree read before the newest one written, or before the last sync's snapshot (whose
        // tree the rows hold since), is older than what is stored.
        if (write.version <= Math.max(Number(stored.tree_version), stored.last_sync_timestamp)) return result;
        result.applied = true;
        const rows = await trx
          .selectFrom('shard_files')
          .select(['file_id', 'path'])
          .where('shard_id', '=', write.shardId)
          .execute();
        const storedPaths = new Map(rows.map((r) => [r.file_id, r.path]));
        const now = this.#toDbTime(new Date());
        const inserts: Array<Insertable<ShardFilesTable>> = [];
        for (const file of write.files) {
          const path = storedPaths.get(file.id);
          storedPaths.delete(file.id);
          if (path === undefined) {
            inserts.push({
              shard_id: write.shardId,
              file_id: file.id,
              path: file.path,
              content: '',
              // A binary file's bytes come with the sync (version 0 takes any version).
              ydoc_state: file.kind === 'binary' ? new Uint8Array(0) : EMPTY_DOC_STATE,
              version: 0,
              kind: file.kind ?? 'text',
              updated_at: now,
            });
          } else if (path !== file.path) {
            await trx
              .updateTable('shard_files')
              .set({ path: file.path, updated_at: now })
              .where('shard_id', '=', write.shardId)
              .where('file_id', '=', file.id)
              .execute();
            result.moved++;
          }
        }
        for (const chunk of chunkRows(inserts)) await trx.insertInto('shard_files').values(chunk).execute();
        result.inserted = inserts.length;
        // What is left is stored but no longer in the tree: deleted since.
        for (const chunk of chunkRows([...storedPaths.keys()])) {
          const gone = await trx
            .deleteFrom('shard_files')
            .where('shard_id', '=', write.shardId)
            .where('file_id', 'in', chunk)
            .executeTakeFirstOrThrow();
          result.deleted += Number(gone.numDeletedRows);
        }
        await trx.updateTable('shards').set({ tree_version: write.version }).where('id', '=', write.shardId).execute();
        return result;
      }),
    );
  }

  async list(
    filter: ShardListFilter,
    page: { limit: number; after?: ShardListCursor | undefined },
  ): Promise<ShardMeta[]> {
    this.#assertOpen();
    if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, `limit must be a positive integer, got ${page.limit}`);
    }
    let query = this.db.selectFrom('shards').selectAll();
    if (filter.kind === 'visible') {
      const { ownerId, shardIds } = filter;
      query = query.where((eb) =>
        shardIds.length === 0
          ? eb('owner_id', '=', ownerId)
          : eb.or([eb('owner_id', '=', ownerId), eb('id', 'in', [...shardIds])]),
      );
    }
    const after = page.after;
    if (after !== undefined) {
      const at = this.#toDbTime(after.updatedAt);
      query = query.where((eb) =>
        eb.or([eb('updated_at', '<', at), eb.and([eb('updated_at', '=', at), eb('id', '<', after.id)])]),
      );
    }
    const rows = await query.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
    return rows.map(toShardMeta);
  }

  async rename(id: ShardId, name: string): Promise<ShardMeta | null> {
    this.#assertOpen();
    const row = await this.withWriteLock(() =>
      this.db
        .updateTable('shards')
        .set({ name, updated_at: this.#toDbTime(new Date()) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst(),
    );
    return row === undefined ? null : toShardMeta(row);
  }

  async delete(id: ShardId): Promise<boolean> {
    this.#assertOpen();
    // Files go with the row: shard_files.shard_id is ON DELETE CASCADE.
    const result = await this.withWriteLock(() =>
      this.db.deleteFrom('shards').where('id', '=', id).executeTakeFirstOrThrow(),
    );
    return result.numDeletedRows > 0n;
  }

  close(): Promise<void> {
    this.#closed ??= this.db.destroy();
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) {
      throw new AppError(ErrorCode.UNAVAILABLE, 'the shard repository is closed; create a new one to use the database');
    }
  }

  #toDbTime(date: Date): DbTime {
    return this.#dialect === 'postgres' ? date : date.getTime();
  }

  #fileRow(shardId: ShardId, file: FileInput, updatedAt: Date): ShardFilesTable {
    return {
      shard_id: shardId,
      file_id: file.id,
      path: file.path,
      content: file.content,
      ydoc_state: file.ydocState,
      kind: file.kind ?? 'text',
      version: file.version,
      updated_at: this.#toDbTime(updatedAt),
    };
  }

  /** The shard's sync columns, locking the row on PostgreSQL; undefined when it does not exist. */
  #readShardForUpdate(trx: Transaction<ShardDatabase>, id: ShardId) {
    const query = trx
      .selectFrom('shards')
      .select(['last_sync_timestamp', 'tree_version', 'dependencies', 'dev_dependencies'])
      .where('id', '=', id);
    // PostgreSQL: the row lock queues concurrent syncs and saves of one shard, so the
    // watermark read here is still the stored one at commit. SQLite: the transaction began
    // with BEGIN IMMEDIATE and already excludes every other writer (and has no FOR UPDATE).
    return (this.#dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
  }

  /**
   * The text of stored files whose version is older (or equal with different text or state):
   * no inserts, paths untouched. Returns the rows written.
   */
  async #updateTextIfNotNewer(
    trx: Transaction<ShardDatabase>,
    shardId: ShardId,
    files: FileInput[],
    now: Date,
  ): Promise<number> {
    let written = 0;
    for (const file of files) {
      const result = await trx
        .updateTable('shard_files')
        .set({
          content: file.content,
          ydoc_state: file.ydocState,
          version: file.version,
          kind: file.kind ?? 'text',
          updated_at: this.#toDbTime(now),
        })
        .where('shard_id', '=', shardId)
        .where('file_id', '=', file.id)
        .where((eb) =>
          eb.or([
            eb('version', '<', file.version),
            eb.and([
              eb('version', '=', file.version),
              eb.or([eb('content', '<>', file.content), eb('ydoc_state', '<>', file.ydocState)]),
            ]),
          ]),
        )
        .executeTakeFirstOrThrow();
      written += Number(result.numUpdatedRows);
    }
    return written;
  }

  /**
   * Inserts new files and overwrites stored ones whose version is older, or equal with
   * different path, text or state. An equal version with identical data is left alone (a
   * replayed batch keeps updated_at and counts as skipped). Returns the rows written.
   */
  async #upsertIfNotNewer(
    trx: Transaction<ShardDatabase>,
    shardId: ShardId,
    files: FileInput[],
    now: Date,
  ): Promise<number> {
    const rows = await trx
      .insertInto('shard_files')
      .values(files.map((file) => this.#fileRow(shardId, file, now)))
      .onConflict((oc) =>
        oc
          .columns(['shard_id', 'file_id'])
          .doUpdateSet((eb) => ({
            path: eb.ref('excluded.path'),
            content: eb.ref('excluded.content'),
            ydoc_state: eb.ref('excluded.ydoc_state'),
            kind: eb.ref('excluded.kind'),
            version: eb.ref('excluded.version'),
            updated_at: eb.ref('excluded.updated_at'),
          }))
          .where((eb) =>
            eb.or([
              eb('shard_files.version', '<', eb.ref('excluded.version')),
              eb.and([
                eb('shard_files.version', '=', eb.ref('excluded.version')),
                eb.or([
                  eb('shard_files.path', '<>', eb.ref('excluded.path')),
                  eb('shard_files.content', '<>', eb.ref('excluded.content')),
                  eb('shard_files.ydoc_state', '<>', eb.ref('excluded.ydoc_state')),
                  eb('shard_files.kind', '<>', eb.ref('excluded.kind')),
                ]),
              ]),
            ]),
          ),
      )
      // RETURNING lists inserted and updated rows only, on both databases.
      .returning('file_id')
      .execute();
    return rows.length;
  }
}

/** Yjs state of an empty document (Y.encodeStateAsUpdate(new Y.Doc())): no structs, no deletions. */
const EMPTY_DOC_STATE = new Uint8Array([0, 0]);

/** Deletes the listed files whose stored version is not newer than the deletion; returns the rows deleted. */
async function deleteIfNotNewer(
  trx: Transaction<ShardDatabase>,
  shardId: ShardId,
  deletes: ReadonlyArray<{ id: FileId; version: number }>,
): Promise<number> {
  const result = await trx
    .deleteFrom('shard_files')
    .where('shard_id', '=', shardId)
    .where((eb) => eb.or(deletes.map((d) => eb.and([eb('file_id', '=', d.id), eb('version', '<=', d.version)]))))
    .executeTakeFirstOrThrow();
  return Number(result.numDeletedRows);
}
