import { ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { AppError, toAppError } from '../errors/index.js';
import {
  migrateToLatest,
  type DbTime,
  type ShardDatabase,
  type ShardFilesTable,
  type ShardsTable,
  type SqlDialectKind,
} from './migrations.js';
import {
  OP_REPLIES_LOADED_MAX,
  OP_REPLY_TTL_MS,
  type Checkpoint,
  type CheckpointMeta,
  type CreateCheckpointInput,
  type IShardRepository,
  type OpReply,
  type PruneResult,
  type RetentionPolicy,
  type Shard,
  type ShardListCursor,
  type ShardListFilter,
  type ShardMeta,
  type SyncBatch,
  type SyncOutcome,
  type SyncResult,
  type SyncWriteOptions,
  type TreeWrite,
  type TreeWriteResult,
  type TreeWriteOptions,
} from './shard-repository.js';
import {
  changesSince,
  checkpointsToPrune,
  encodeTree,
  mergeAuthors,
  parseAuthors,
  parseTree,
  toCheckpoint,
  toCheckpointMeta,
  toTree,
} from './checkpoint-rows.js';
import {
  assertShard,
  assertSyncBatch,
  assertTreeWrite,
  byPath,
  chunkBySize,
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

  /**
   * Runs one write transaction (or the migration). The default runs it as is; SQLite queues it per
   * file and, with `wait: false`, gives up at once when another handle holds the write lock.
   */
  protected withWriteLock<T>(write: () => Promise<T>, _options?: { wait?: boolean | undefined }): Promise<T> {
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
    return this.#readSnapshot((trx) => this.#readShard(trx, id));
  }

  async findForLoad(id: ShardId): Promise<{ shard: Shard; opReplies: OpReply[] } | null> {
    this.#assertOpen();
    return this.#readForLoad(id, async (trx) => {
      const shard = await this.#readShard(trx, id);
      if (shard === null) return null;
      // Only a shard that had a tree written (or replies synced) has replies: a fresh one skips the query.
      const opReplies = (shard.treeVersion ?? 0) > 0 ? await this.#recentOpRepliesIn(trx, id) : [];
      return { shard, opReplies };
    });
  }

  #readSnapshot<T>(read: (trx: Transaction<ShardDatabase>) => Promise<T>): Promise<T> {
    return this.db.transaction().setAccessMode('read only').setIsolationLevel('repeatable read').execute(read);
  }

  /**
   * findForLoad's read. PostgreSQL: the shard row is read FOR SHARE first, which waits for a
   * writer holding it (every writer of a shard's rows locks its row first) and keeps others out
   * until the read ends, so the statements after it see one state, the newest, of this shard.
   * (A repeatable-read snapshot would be taken before the wait and miss the writer's commit.)
   * SQLite: the read takes the write lock (BEGIN IMMEDIATE, writing nothing), which waits for a
   * writer of another connection or process, and is a snapshot.
   */
  #readForLoad<T>(id: ShardId, read: (trx: Transaction<ShardDatabase>) => Promise<T>): Promise<T> {
    if (this.#dialect !== 'postgres') return this.withWriteLock(() => this.db.transaction().execute(read));
    return this.db
      .transaction()
      .setIsolationLevel('read committed')
      .execute(async (trx) => {
        await trx.selectFrom('shards').select('id').where('id', '=', id).forShare().execute();
        return read(trx);
      });
  }

  async #readShard(trx: Transaction<ShardDatabase>, id: ShardId): Promise<Shard | null> {
    const row = await trx.selectFrom('shards').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) return null;
    const files = await trx.selectFrom('shard_files').selectAll().where('shard_id', '=', id).execute();
    return {
      ...toShardMeta(row),
      treeVersion: Number(row.tree_version),
      files: files.map(toStoredFile).sort(byPath),
    };
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

  async applySync(batch: SyncBatch, options: SyncWriteOptions = {}): Promise<SyncResult> {
    this.#assertOpen();
    assertSyncBatch(batch);
    return this.withWriteLock(() =>
      this.db.transaction().execute(async (trx) => {
        const current = await this.#currentShards(trx, [batch.shardId], options);
        return this.#applySyncIn(trx, batch, !current.has(batch.shardId));
      }),
    );
  }

  /**
   * SyncWriteOptions.current, asked with the rows of `shardIds` (sorted) locked: every shard
   * when there is no question.
   */
  async #currentShards(
    trx: Transaction<ShardDatabase>,
    shardIds: readonly ShardId[],
    options: SyncWriteOptions,
  ): Promise<ReadonlySet<ShardId>> {
    if (options.current === undefined || shardIds.length === 0) return new Set(shardIds);
    // SQLite: BEGIN IMMEDIATE excludes every other writer already.
    if (this.#dialect === 'postgres') {
      await trx.selectFrom('shards').select('id').where('id', 'in', shardIds).orderBy('id').forUpdate().execute();
    }
    return options.current(shardIds);
  }

  async applySyncs(batches: readonly SyncBatch[], options: SyncWriteOptions = {}): Promise<SyncOutcome[]> {
    this.#assertOpen();
    const outcomes: Array<SyncOutcome | undefined> = batches.map((batch) => {
      try {
        assertSyncBatch(batch);
        return undefined;
      } catch (error) {
        return { ok: false, error: toAppError(error) };
      }
    });
    // Shards in id order, so two groups never lock shard rows (PostgreSQL) in opposite orders.
    const order = batches
      .map((batch, index) => ({ batch, index }))
      .filter(({ index }) => outcomes[index] === undefined)
      .sort((a, b) => (a.batch.shardId < b.batch.shardId ? -1 : a.batch.shardId > b.batch.shardId ? 1 : 0));
    if (order.length > 0) {
      await this.withWriteLock(() =>
        this.db.transaction().execute(async (trx) => {
          const ids = order.map(({ batch }) => batch.shardId);
          const current = await this.#currentShards(trx, ids, options);
          for (const { batch, index } of order) {
            // A savepoint per batch: one that fails is undone alone, the others still commit.
            await sql`savepoint tandem_sync`.execute(trx);
            try {
              const result = await this.#applySyncIn(trx, batch, !current.has(batch.shardId));
              await sql`release savepoint tandem_sync`.execute(trx);
              outcomes[index] = { ok: true, result };
            } catch (error) {
              // When this fails too (the connection is gone), the whole group fails: nothing committed.
              await sql`rollback to savepoint tandem_sync`.execute(trx);
              await sql`release savepoint tandem_sync`.execute(trx);
              outcomes[index] = { ok: false, error: toAppError(error) };
            }
          }
        }),
      );
    }
    return outcomes.map((o) => o ?? { ok: false, error: new AppError(ErrorCode.INTERNAL, 'sync batch not applied') });
  }

  /** One sync batch inside a transaction (see applySync); `stale`: see SyncWriteOptions. */
  async #applySyncIn(trx: Transaction<ShardDatabase>, batch: SyncBatch, stale: boolean): Promise<SyncResult> {
    const upserts = latestPerFile(batch.upserts);
    const dependencies =
      batch.dependencies === undefined
        ? undefined
        : {
            dependencies: JSON.stringify(batch.dependencies.dependencies),
            dev_dependencies: JSON.stringify(batch.dependencies.devDependencies),
          };
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
    // So does a batch of a load Redis lost (stale): the rows may be a newer load's.
    const behindTree = stale || batch.lastSyncTimestamp < Number(stored.tree_version);
    let written = 0;
    for (const chunk of chunkFiles(upserts)) {
      written += behindTree
        ? await this.#updateTextIfNotNewer(trx, batch.shardId, chunk, now)
        : await this.#upsertIfNotNewer(trx, batch.shardId, chunk, now);
    }
    let deleted = 0;
    if (!behindTree)
      for (const chunk of chunkRows(batch.deletes)) deleted += await deleteIfNotNewer(trx, batch.shardId, chunk);

    const advances = !stale && batch.lastSyncTimestamp > stored.last_sync_timestamp;
    const dependenciesChange =
      dependencies !== undefined &&
      (dependencies.dependencies !== stored.dependencies || dependencies.dev_dependencies !== stored.dev_dependencies);
    // Replies of operations whose tree was never written through: after this batch the database
    // holds the tree as of its watermark, so tree_version may rise to it, and a load (which looks
    // for replies only when tree_version is above 0) answers them again.
    const ops = stale ? [] : (batch.ops ?? []);
    await this.#storeOpReplies(trx, batch.shardId, ops);
    const raisesTree = ops.length > 0 && Number(stored.tree_version) < batch.lastSyncTimestamp;
    // A batch that changes nothing leaves the row alone too, so replaying it is a true no-op.
    if (written + deleted > 0 || advances || dependenciesChange || raisesTree) {
      await trx
        .updateTable('shards')
        .set({
          ...dependencies,
          updated_at: this.#toDbTime(now),
          // Safe to compute here: the row is locked (PostgreSQL) or the database is (SQLite).
          last_sync_timestamp: advances ? batch.lastSyncTimestamp : stored.last_sync_timestamp,
          ...(raisesTree ? { tree_version: batch.lastSyncTimestamp } : {}),
        })
        .where('id', '=', batch.shardId)
        .execute();
    }
    return { written, deleted, skipped: batch.upserts.length + batch.deletes.length - written - deleted };
  }

  async writeTree(write: TreeWrite, options: TreeWriteOptions = {}): Promise<TreeWriteResult> {
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
        // With the row locked: a load that reads after this check waits for the commit.
        if (options.current !== undefined && !(await options.current())) return { ...result, stale: true };
        await this.#storeOpReplies(trx, write.shardId, write.ops ?? []);
        // A tree read before the newest one written, or before the last sync's snapshot (whose
        // tree the rows hold since), is older than what is stored.
        if (write.version <= Math.max(Number(stored.tree_version), stored.last_sync_timestamp)) {
          // The rows hold a tree at least this new (a sync's): saying so marks the shard as one
          // with operation replies, which a load reads only then (recentOpReplies).
          if ((write.ops?.length ?? 0) > 0 && Number(stored.tree_version) < write.version)
            await trx
              .updateTable('shards')
              .set({ tree_version: write.version })
              .where('id', '=', write.shardId)
              .execute();
          return result;
        }
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

  async recentOpReplies(shardId: ShardId): Promise<OpReply[]> {
    this.#assertOpen();
    return this.#recentOpRepliesIn(this.db, shardId);
  }

  async #recentOpRepliesIn(db: Kysely<ShardDatabase>, shardId: ShardId): Promise<OpReply[]> {
    const rows = await db
      .selectFrom('shard_ops')
      .select(['op_id', 'reply'])
      .where('shard_id', '=', shardId)
      .where('created_at', '>=', this.#toDbTime(new Date(Date.now() - OP_REPLY_TTL_MS)))
      .orderBy('created_at', 'desc')
      .limit(OP_REPLIES_LOADED_MAX)
      .execute();
    return rows.map((r) => ({ opId: r.op_id, reply: r.reply }));
  }

  async pruneOpReplies(now = new Date()): Promise<number> {
    this.#assertOpen();
    const cutoff = this.#toDbTime(new Date(now.getTime() - OP_REPLY_TTL_MS));
    // In a transaction, as every write here: on SQLite its BEGIN IMMEDIATE is what waits for the
    // write lock without holding the thread (SqliteShardRepository).
    const result = await this.withWriteLock(() =>
      this.db
        .transaction()
        .execute((trx) => trx.deleteFrom('shard_ops').where('created_at', '<', cutoff).executeTakeFirst()),
    );
    return Number(result.numDeletedRows);
  }

  /** Stores operation replies; a reply stored already stays as it is. */
  async #storeOpReplies(trx: Transaction<ShardDatabase>, shardId: ShardId, ops: readonly OpReply[]): Promise<void> {
    if (ops.length === 0) return;
    const now = this.#toDbTime(new Date());
    const rows = ops.map((op) => ({ shard_id: shardId, op_id: op.opId, reply: op.reply, created_at: now }));
    for (const chunk of chunkRows(rows))
      await trx
        .insertInto('shard_ops')
        .values(chunk)
        .onConflict((oc) => oc.columns(['shard_id', 'op_id']).doNothing())
        .execute();
  }

  async createCheckpoint(input: CreateCheckpointInput): Promise<CheckpointMeta | null> {
    this.#assertOpen();
    const { shardId } = input;
    return this.withWriteLock(() =>
      this.db.transaction().execute(async (trx) => {
        // The shard row lock (PostgreSQL) orders this after a running sync, and two checkpoints
        // of one shard one after the other, so each sees the previous one's seq.
        const stored = await this.#readShardForUpdate(trx, shardId);
        if (stored === undefined) {
          throw new AppError(ErrorCode.SHARD_NOT_FOUND, `shard ${shardId} does not exist`, { details: { shardId } });
        }
        const previous = await trx
          .selectFrom('shard_checkpoints')
          .selectAll()
          .where('shard_id', '=', shardId)
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst();
        const now = new Date();
        if (previous !== undefined && input.minIntervalMs !== undefined) {
          const at = toCheckpointMeta(previous).createdAt.getTime();
          if (now.getTime() - at < input.minIntervalMs) return null;
        }
        const pending = new Map((input.pending ?? []).map((p) => [p.id as string, p]));
        const files = (
          await trx
            .selectFrom('shard_files')
            .select(['file_id', 'path', 'version', 'kind'])
            .where('shard_id', '=', shardId)
            .execute()
        ).map((f) => ({ ...f, version: Math.max(f.version, pending.get(f.file_id)?.version ?? 0) }));
        if (input.onlyIfStored !== undefined) {
          const wanted = new Set<string>(input.onlyIfStored);
          if (!files.some((f) => wanted.has(f.file_id))) return null;
        }
        const tree = toTree(files);
        const { changed, treeChanged } = changesSince(
          previous === undefined ? [] : parseTree(previous.tree, shardId, previous.seq),
          tree,
        );
        if (previous !== undefined && changed.length === 0 && !treeChanged && input.force !== true) return null;
        const seq = (previous?.seq ?? 0) + 1;
        const row = {
          shard_id: shardId,
          seq,
          created_at: this.#toDbTime(now),
          label: input.label ?? null,
          reason: input.reason,
          authors: JSON.stringify(mergeAuthors(input.authors)),
          tree: encodeTree(tree),
          version: stored.last_sync_timestamp,
          files_changed: changed.length,
          stored_bytes: 0,
        };
        await trx.insertInto('shard_checkpoints').values(row).execute();
        const fromPending = changed.filter((id) => pending.has(id));
        for (const chunk of chunkBySize(fromPending, (id) => pending.get(id)?.ydocState.byteLength ?? 0)) {
          await trx
            .insertInto('checkpoint_files')
            .values(
              chunk.map((id) => ({
                shard_id: shardId,
                file_id: id,
                seq,
                ydoc_state: pending.get(id)?.ydocState ?? new Uint8Array(),
              })),
            )
            .execute();
        }
        // The rest is copied inside the database: the states never travel to this process.
        for (const ids of chunkRows(changed.filter((id) => !pending.has(id)))) {
          await trx
            .insertInto('checkpoint_files')
            .columns(['shard_id', 'file_id', 'seq', 'ydoc_state'])
            .expression((eb) =>
              eb
                .selectFrom('shard_files')
                .select(['shard_id', 'file_id', sql.lit(seq).as('seq'), 'ydoc_state'])
                .where('shard_id', '=', shardId)
                .where('file_id', 'in', ids),
            )
            .execute();
        }
        const storedBytes = changed.length === 0 ? 0 : await this.#storedBytes(trx, shardId, seq);
        if (storedBytes > 0) {
          await trx
            .updateTable('shard_checkpoints')
            .set({ stored_bytes: storedBytes })
            .where('shard_id', '=', shardId)
            .where('seq', '=', seq)
            .execute();
        }
        return toCheckpointMeta({ ...row, stored_bytes: storedBytes });
      }),
    );
  }

  async listCheckpoints(
    shardId: ShardId,
    options: { limit: number; beforeSeq?: number | undefined },
  ): Promise<CheckpointMeta[]> {
    this.#assertOpen();
    let query = this.db
      .selectFrom('shard_checkpoints')
      .select([
        'shard_id',
        'seq',
        'created_at',
        'label',
        'reason',
        'authors',
        'version',
        'files_changed',
        'stored_bytes',
      ])
      .where('shard_id', '=', shardId);
    if (options.beforeSeq !== undefined) query = query.where('seq', '<', options.beforeSeq);
    const rows = await query.orderBy('seq', 'desc').limit(options.limit).execute();
    return rows.map(toCheckpointMeta);
  }

  async findCheckpoint(shardId: ShardId, seq: number): Promise<Checkpoint | null> {
    this.#assertOpen();
    const row = await this.db
      .selectFrom('shard_checkpoints')
      .selectAll()
      .where('shard_id', '=', shardId)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row === undefined ? null : toCheckpoint(row);
  }

  async latestCheckpoint(shardId: ShardId): Promise<Checkpoint | null> {
    this.#assertOpen();
    const row = await this.db
      .selectFrom('shard_checkpoints')
      .selectAll()
      .where('shard_id', '=', shardId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? null : toCheckpoint(row);
  }

  async readCheckpointFiles(
    shardId: ShardId,
    seq: number,
    fileIds: readonly FileId[],
  ): Promise<Map<FileId, Uint8Array>> {
    this.#assertOpen();
    const states = new Map<FileId, Uint8Array>();
    for (const ids of chunkRows(fileIds)) {
      // Per file, the row with the highest seq not above the checkpoint: one probe of the
      // (shard_id, file_id, seq) key each, however many checkpoints the shard has.
      const rows = await this.db
        .selectFrom('checkpoint_files as cf')
        .select(['cf.file_id', 'cf.ydoc_state'])
        .where('cf.shard_id', '=', shardId)
        .where('cf.file_id', 'in', ids)
        .where('cf.seq', '=', (eb) =>
          eb
            .selectFrom('checkpoint_files as c2')
            .select((e) => e.fn.max('c2.seq').as('latest'))
            .whereRef('c2.shard_id', '=', 'cf.shard_id')
            .whereRef('c2.file_id', '=', 'cf.file_id')
            .where('c2.seq', '<=', seq),
        )
        .execute();
      for (const row of rows) states.set(row.file_id as FileId, row.ydoc_state);
    }
    return states;
  }

  async pruneCheckpoints(
    policy: RetentionPolicy,
    options: { now?: Date; shardId?: ShardId } = {},
  ): Promise<PruneResult> {
    this.#assertOpen();
    const now = options.now ?? new Date();
    const cutoff = this.#toDbTime(new Date(now.getTime() - policy.keepAllMs));
    let candidates = this.db
      .selectFrom('shard_checkpoints')
      .select('shard_id')
      .distinct()
      .where('created_at', '<', cutoff)
      .where('label', 'is', null);
    if (options.shardId !== undefined) candidates = candidates.where('shard_id', '=', options.shardId);
    const shardIds = (await candidates.execute()).map((r) => r.shard_id as ShardId);
    const result: PruneResult = { shards: 0, deleted: 0, movedFiles: 0 };
    for (const shardId of shardIds) {
      const { deleted, movedFiles } = await this.withWriteLock(() =>
        this.db.transaction().execute((trx) => this.#pruneShard(trx, shardId, policy, now)),
      );
      if (deleted > 0) result.shards++;
      result.deleted += deleted;
      result.movedFiles += movedFiles;
    }
    return result;
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

  async touch(changes: ReadonlyMap<ShardId, Date>, options?: { wait?: boolean }): Promise<number | null> {
    this.#assertOpen();
    if (changes.size === 0) return 0;
    // One transaction: one commit (one fsync) for every shard a flush reports.
    return this.withWriteLock(
      () =>
        this.db.transaction().execute(async (trx) => {
          let moved = 0n;
          for (const [id, date] of changes) {
            const at = this.#toDbTime(date);
            const result = await trx
              .updateTable('shards')
              .set({ updated_at: at })
              .where('id', '=', id)
              .where('updated_at', '<', at)
              .executeTakeFirstOrThrow();
            moved += result.numUpdatedRows;
          }
          return Number(moved);
        }),
      { wait: options?.wait },
    );
  }

  async rename(id: ShardId, name: string): Promise<ShardMeta | null> {
    this.#assertOpen();
    const row = await this.withWriteLock(() =>
      this.db.transaction().execute((trx) =>
        trx
          .updateTable('shards')
          .set({ name, updated_at: this.#toDbTime(new Date()) })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
      ),
    );
    return row === undefined ? null : toShardMeta(row);
  }

  async delete(id: ShardId): Promise<boolean> {
    this.#assertOpen();
    // Files go with the row: shard_files.shard_id is ON DELETE CASCADE.
    const result = await this.withWriteLock(() =>
      this.db.transaction().execute((trx) => trx.deleteFrom('shards').where('id', '=', id).executeTakeFirstOrThrow()),
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

  async #storedBytes(trx: Transaction<ShardDatabase>, shardId: ShardId, seq: number): Promise<number> {
    const { bytes } = await trx
      .selectFrom('checkpoint_files')
      .select(sql<number | string | null>`sum(length(ydoc_state))`.as('bytes'))
      .where('shard_id', '=', shardId)
      .where('seq', '=', seq)
      .executeTakeFirstOrThrow();
    return Number(bytes ?? 0);
  }

  /**
   * Deletes one shard's checkpoints that the policy drops. Each run of dropped checkpoints
   * hands the newest state of each file it stored to the kept checkpoint after it, when that
   * one has the file in its tree but stores no state of its own (it was reading the run's).
   */
  async #pruneShard(
    trx: Transaction<ShardDatabase>,
    shardId: ShardId,
    policy: RetentionPolicy,
    now: Date,
  ): Promise<{ deleted: number; movedFiles: number }> {
    // Lock the shard row first, as every writer of this shard does (PostgreSQL).
    if ((await this.#readShardForUpdate(trx, shardId)) === undefined) return { deleted: 0, movedFiles: 0 };
    const all = (
      await trx
        .selectFrom('shard_checkpoints')
        .select(['seq', 'created_at', 'label'])
        .where('shard_id', '=', shardId)
        .orderBy('seq', 'asc')
        .execute()
    ).map((r) => ({
      seq: r.seq,
      label: r.label,
      createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    }));
    const pruned = checkpointsToPrune(all, policy, now);
    if (pruned.size === 0) return { deleted: 0, movedFiles: 0 };
    let movedFiles = 0;
    let run: number[] = [];
    for (const { seq } of all) {
      if (pruned.has(seq)) {
        run.push(seq);
        continue;
      }
      if (run.length > 0) movedFiles += await this.#foldRunInto(trx, shardId, run, seq);
      run = [];
    }
    for (const seqs of chunkRows([...pruned])) {
      await trx.deleteFrom('checkpoint_files').where('shard_id', '=', shardId).where('seq', 'in', seqs).execute();
      await trx.deleteFrom('shard_checkpoints').where('shard_id', '=', shardId).where('seq', 'in', seqs).execute();
    }
    return { deleted: pruned.size, movedFiles };
  }

  async #foldRunInto(
    trx: Transaction<ShardDatabase>,
    shardId: ShardId,
    run: readonly number[],
    keptSeq: number,
  ): Promise<number> {
    const kept = await trx
      .selectFrom('shard_checkpoints')
      .select(['tree', 'authors', 'files_changed', 'stored_bytes'])
      .where('shard_id', '=', shardId)
      .where('seq', '=', keptSeq)
      .executeTakeFirstOrThrow();
    const inTree = new Set<string>(parseTree(kept.tree, shardId, keptSeq).map((e) => e.id));
    const own = new Set(
      (
        await trx
          .selectFrom('checkpoint_files')
          .select('file_id')
          .where('shard_id', '=', shardId)
          .where('seq', '=', keptSeq)
          .execute()
      ).map((r) => r.file_id),
    );
    const newest = new Map<string, { seq: number; bytes: number }>();
    let authors = parseAuthors(kept.authors);
    for (const seqs of chunkRows(run)) {
      const rows = await trx
        .selectFrom('checkpoint_files')
        .select(['file_id', 'seq', sql<number | string>`length(ydoc_state)`.as('bytes')])
        .where('shard_id', '=', shardId)
        .where('seq', 'in', seqs)
        .execute();
      for (const row of rows) {
        const seen = newest.get(row.file_id);
        if (seen === undefined || seen.seq < row.seq)
          newest.set(row.file_id, { seq: row.seq, bytes: Number(row.bytes) });
      }
      const runAuthors = await trx
        .selectFrom('shard_checkpoints')
        .select('authors')
        .where('shard_id', '=', shardId)
        .where('seq', 'in', seqs)
        .execute();
      authors = mergeAuthors(authors, ...runAuthors.map((r) => parseAuthors(r.authors)));
    }
    let moved = 0;
    let movedBytes = 0;
    for (const [fileId, { seq, bytes }] of newest) {
      if (own.has(fileId) || !inTree.has(fileId)) continue;
      await trx
        .updateTable('checkpoint_files')
        .set({ seq: keptSeq })
        .where('shard_id', '=', shardId)
        .where('file_id', '=', fileId)
        .where('seq', '=', seq)
        .execute();
      moved++;
      movedBytes += bytes;
    }
    await trx
      .updateTable('shard_checkpoints')
      .set({
        authors: JSON.stringify(authors),
        files_changed: kept.files_changed + moved,
        stored_bytes: kept.stored_bytes + movedBytes,
      })
      .where('shard_id', '=', shardId)
      .where('seq', '=', keptSeq)
      .execute();
    return moved;
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
