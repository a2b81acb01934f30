/**
 * persistence — the only door to the database: the IShardRepository contract, its PostgreSQL
 * and SQLite implementations (one Kysely-based store), the schema migrations, and
 * createShardRepository(config) that picks one.
 * Imports only config types, errors and @tandem/protocol; it knows nothing of Redis, sockets
 * or jobs, and callers reach it only through this file.
 */
export {
  toShardSummary,
  toCheckpointSummary,
  CheckpointReason,
  OP_REPLY_TTL_MS,
  type Checkpoint,
  type CheckpointAuthor,
  type CheckpointMeta,
  type CheckpointTreeEntry,
  type CreateCheckpointInput,
  type PruneResult,
  type RetentionPolicy,
  type IShardRepository,
  type OpReply,
  type Shard,
  type ShardListCursor,
  type ShardListFilter,
  type ShardMeta,
  type StoredFile,
  type SyncBatch,
  type SyncOutcome,
  type SyncResult,
  type SyncWriteOptions,
  type TreeWrite,
  type TreeWriteResult,
  type TreeWriteOptions,
} from './shard-repository.js';
export { createShardRepository, type CreateShardRepositoryOptions } from './create-shard-repository.js';
export { PostgresShardRepository, type PostgresShardRepositoryOptions } from './postgres-shard-repository.js';
export { SqliteShardRepository, type SqliteShardRepositoryOptions } from './sqlite-shard-repository.js';
