import { ErrorCode } from '@tandem/protocol';
import { Migrator, type Generated, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { AppError } from '../errors/index.js';

/** The SQL databases the repository runs on. */
export type SqlDialectKind = 'postgres' | 'sqlite';

/**
 * A moment as a column stores it: `timestamptz` (read back as Date) on PostgreSQL,
 * integer milliseconds since the epoch on SQLite.
 */
export type DbTime = Date | number;

/** The `shards` table: one row per shard. */
export type ShardsTable = {
  id: string;
  name: string;
  template_id: string;
  template_revision: number;
  /** JSON text of a DependencyMap. */
  dependencies: string;
  /** JSON text of a DependencyMap. */
  dev_dependencies: string;
  created_at: DbTime;
  updated_at: DbTime;
  /** bigint on PostgreSQL, read back as a number (see PostgresShardRepository). */
  last_sync_timestamp: number;
  /**
   * The shard clock value of the newest file tree written through (IShardRepository.writeTree):
   * the paths and the set of files rows hold are at least that new. 0 before the first.
   */
  tree_version: Generated<number>;
  /** The creating token's `sub`; null for shards created before migration 0005. */
  owner_id: string | null;
};

/** The `shard_files` table: one row per file, keyed by (shard_id, file_id). */
export type ShardFilesTable = {
  shard_id: string;
  file_id: string;
  path: string;
  content: string;
  /** bytea on PostgreSQL, blob on SQLite; both read back as a Buffer. A binary file's bytes. */
  ydoc_state: Uint8Array;
  /** `text` (a Yjs document) or `binary` (a blob whose bytes are in ydoc_state); migration 0002. */
  kind: 'text' | 'binary';
  version: number;
  updated_at: DbTime;
};

/**
 * The `shard_checkpoints` table: one row per checkpoint of a shard's history, keyed by
 * (shard_id, seq); seq counts up from 1 per shard and is the checkpoint's public id.
 */
export type ShardCheckpointsTable = {
  shard_id: string;
  seq: number;
  created_at: DbTime;
  /** A name given on demand; named checkpoints are never pruned. */
  label: string | null;
  /** Why it was recorded (CheckpointReason). */
  reason: string;
  /** JSON text: [{ userId, name }] of who changed the shard since the previous checkpoint. */
  authors: string;
  /** [{ id, path, version }] of every file at this checkpoint: JSON, deflated (raw deflate). */
  tree: Uint8Array;
  /** The shard watermark (last_sync_timestamp) the checkpoint was read at. */
  version: number;
  /** Files whose state this checkpoint stores (changed since the previous one). */
  files_changed: number;
  /** Bytes of Yjs state this checkpoint stores (its checkpoint_files rows). */
  stored_bytes: number;
};

/**
 * The `checkpoint_files` table: a file's Yjs state, stored at the first checkpoint where it
 * differs from the previous checkpoint. The state of file F at checkpoint C is the row of F with
 * the highest seq not above C.seq.
 */
export type CheckpointFilesTable = {
  shard_id: string;
  file_id: string;
  seq: number;
  ydoc_state: Uint8Array;
};

/**
 * The `shard_ops` table: the reply an idempotent file operation got, keyed by (shard_id, op_id),
 * written with the tree that holds the operation (IShardRepository.writeTree); migration 0006.
 */
export type ShardOpsTable = {
  shard_id: string;
  op_id: string;
  /** JSON text of the reply (lua/includes/ops.lua). */
  reply: string;
  created_at: DbTime;
};

/** The tables the migrations below create, as Kysely sees them. */
export type ShardDatabase = {
  shards: ShardsTable;
  shard_files: ShardFilesTable;
  shard_checkpoints: ShardCheckpointsTable;
  checkpoint_files: CheckpointFilesTable;
  shard_ops: ShardOpsTable;
};

/** Kysely's bookkeeping tables get our own names so another Kysely app in the same schema keeps its history. */
const MIGRATION_TABLE = 'tandem_migration';
const MIGRATION_LOCK_TABLE = 'tandem_migration_lock';

const COLUMN_TYPES = {
  postgres: { bigint: 'bigint', binary: 'bytea', time: 'timestamptz' },
  sqlite: { bigint: 'integer', binary: 'blob', time: 'integer' },
} as const;

/**
 * The schema history, oldest first (the migrator sorts by name). A migration, once released,
 * never changes: add a new one instead.
 */
function createMigrations(dialect: SqlDialectKind): Record<string, Migration> {
  const types = COLUMN_TYPES[dialect];
  return {
    '0001_create_shards': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('shards')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('template_id', 'text', (col) => col.notNull())
          .addColumn('template_revision', 'integer', (col) => col.notNull())
          .addColumn('dependencies', 'text', (col) => col.notNull())
          .addColumn('dev_dependencies', 'text', (col) => col.notNull())
          .addColumn('created_at', types.time, (col) => col.notNull())
          .addColumn('updated_at', types.time, (col) => col.notNull())
          .addColumn('last_sync_timestamp', types.bigint, (col) => col.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createTable('shard_files')
          .addColumn('shard_id', 'text', (col) => col.notNull().references('shards.id').onDelete('cascade'))
          .addColumn('file_id', 'text', (col) => col.notNull())
          .addColumn('path', 'text', (col) => col.notNull())
          .addColumn('content', 'text', (col) => col.notNull())
          .addColumn('ydoc_state', types.binary, (col) => col.notNull())
          .addColumn('version', types.bigint, (col) => col.notNull())
          .addColumn('updated_at', types.time, (col) => col.notNull())
          .addPrimaryKeyConstraint('shard_files_pkey', ['shard_id', 'file_id'])
          .execute();
        // Not unique: swapping two paths inside one batch passes through a moment where both
        // rows hold the same path. Path uniqueness is the caller's invariant, not a constraint.
        await db.schema
          .createIndex('shard_files_shard_id_path_idx')
          .on('shard_files')
          .columns(['shard_id', 'path'])
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('shard_files').execute();
        await db.schema.dropTable('shards').execute();
      },
    },
    '0002_file_kind': {
      // Binary files (images, fonts) keep their bytes in ydoc_state and '' as content.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('shard_files')
          .addColumn('kind', 'text', (col) => col.notNull().defaultTo('text'))
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('shard_files').dropColumn('kind').execute();
      },
    },
    '0003_tree_version': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('shards')
          .addColumn('tree_version', types.bigint, (col) => col.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('shards').dropColumn('tree_version').execute();
      },
    },
    '0004_create_checkpoints': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('shard_checkpoints')
          .addColumn('shard_id', 'text', (col) => col.notNull().references('shards.id').onDelete('cascade'))
          .addColumn('seq', types.bigint, (col) => col.notNull())
          .addColumn('created_at', types.time, (col) => col.notNull())
          .addColumn('label', 'text')
          .addColumn('reason', 'text', (col) => col.notNull())
          .addColumn('authors', 'text', (col) => col.notNull())
          .addColumn('tree', types.binary, (col) => col.notNull())
          .addColumn('version', types.bigint, (col) => col.notNull())
          .addColumn('files_changed', 'integer', (col) => col.notNull())
          .addColumn('stored_bytes', types.bigint, (col) => col.notNull())
          .addPrimaryKeyConstraint('shard_checkpoints_pkey', ['shard_id', 'seq'])
          .execute();
        await db.schema
          .createTable('checkpoint_files')
          .addColumn('shard_id', 'text', (col) => col.notNull())
          .addColumn('file_id', 'text', (col) => col.notNull())
          .addColumn('seq', types.bigint, (col) => col.notNull())
          .addColumn('ydoc_state', types.binary, (col) => col.notNull())
          // (shard_id, file_id, seq): "the latest row of F not above C" is one index probe.
          .addPrimaryKeyConstraint('checkpoint_files_pkey', ['shard_id', 'file_id', 'seq'])
          .addForeignKeyConstraint(
            'checkpoint_files_checkpoint_fkey',
            ['shard_id', 'seq'],
            'shard_checkpoints',
            ['shard_id', 'seq'],
            (fk) => fk.onDelete('cascade').onUpdate('cascade'),
          )
          .execute();
        await db.schema
          .createIndex('checkpoint_files_shard_id_seq_idx')
          .on('checkpoint_files')
          .columns(['shard_id', 'seq'])
          .execute();
        await db.schema
          .createIndex('shard_checkpoints_created_at_idx')
          .on('shard_checkpoints')
          .columns(['created_at'])
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('checkpoint_files').execute();
        await db.schema.dropTable('shard_checkpoints').execute();
      },
    },
    '0005_shard_owner': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Nullable: shards created before owners were recorded have none (admins and `shards`
        // claims still reach them).
        await db.schema.alterTable('shards').addColumn('owner_id', 'text').execute();
        // GET /shards: a user's own shards, most recently updated first (keyset pagination).
        await db.schema
          .createIndex('shards_owner_updated_idx')
          .on('shards')
          .columns(['owner_id', 'updated_at', 'id'])
          .execute();
        // GET /shards for admins and `*` claims: every shard, most recently updated first.
        await db.schema.createIndex('shards_updated_idx').on('shards').columns(['updated_at', 'id']).execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropIndex('shards_updated_idx').execute();
        await db.schema.dropIndex('shards_owner_updated_idx').execute();
        await db.schema.alterTable('shards').dropColumn('owner_id').execute();
      },
    },
    '0006_shard_ops': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('shard_ops')
          .addColumn('shard_id', 'text', (col) => col.notNull().references('shards.id').onDelete('cascade'))
          .addColumn('op_id', 'text', (col) => col.notNull())
          .addColumn('reply', 'text', (col) => col.notNull())
          .addColumn('created_at', types.time, (col) => col.notNull())
          .addPrimaryKeyConstraint('shard_ops_pkey', ['shard_id', 'op_id'])
          .execute();
        // The history pruner's job drops expired replies of every shard (pruneOpReplies).
        await db.schema.createIndex('shard_ops_created_at_idx').on('shard_ops').columns(['created_at']).execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('shard_ops').execute();
      },
    },
  };
}

/** The migrations for one dialect, as a static provider for Kysely's Migrator. */
function createMigrationProvider(dialect: SqlDialectKind): MigrationProvider {
  return { getMigrations: () => Promise.resolve(createMigrations(dialect)) };
}

/**
 * Brings the schema to the latest migration.
 *
 * Concurrency: on PostgreSQL, Kysely's migrator holds a session advisory lock
 * (`pg_advisory_lock`, one fixed key per database) around a transaction that reads the
 * history and runs what is pending, so concurrent callers run one after another and later
 * ones find nothing to do. On SQLite the caller must pass a Kysely instance whose adapter
 * reports transactional DDL and whose write transactions start with `BEGIN IMMEDIATE` (see
 * SqliteShardRepository): the history is then read and written under SQLite's write lock.
 *
 * @param migrationTableSchema PostgreSQL: the schema that holds the history tables. Pass it
 *   always: without it Kysely looks for the history table in every schema of the database.
 */
export async function migrateToLatest(
  db: Kysely<ShardDatabase>,
  options: { dialect: SqlDialectKind; migrationTableSchema?: string | undefined },
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: createMigrationProvider(options.dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(options.migrationTableSchema === undefined ? {} : { migrationTableSchema: options.migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === 'Error');
  const message =
    failed === undefined
      ? 'database migration could not start; check that the database is reachable and the user may create tables'
      : `database migration ${failed.migrationName} failed and was rolled back; fix the cause and start again`;
  const why = error instanceof Error ? `: ${error.message}` : '';
  throw new AppError(ErrorCode.INTERNAL, `${message}${why}`, { cause: error });
}
