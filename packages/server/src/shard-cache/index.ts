/**
 * shard-cache — the live state of open shards in Redis: single-flight population from the
 * database, cluster-wide membership, atomic edits and file-tree steps (Lua), the atomic
 * snapshot and compaction used by sync, and eviction. Also the Yjs helpers for file states.
 * Imports persistence, redis, config, logging, errors and protocol; never realtime or http.
 */
export { ShardCache, newFileId, type ShardCacheDeps } from './shard-cache.js';
export type {
  CachedMeta,
  ShardSnapshot,
  SnapshotFile,
  CompactEntry,
  CompactOutcome,
  EvictOutcome,
  ShardInspection,
  TreeOpOptions,
  CreateFileResult,
  RenameResult,
  DeleteResult,
  FileSyncRead,
} from './types.js';
export { TEXT_NAME, stateFromText, textFromUpdates, mergeToState, updateToText, isValidUpdate } from './ydoc.js';
