/**
 * shard-cache — the live state of open shards in Redis, in four parts: ShardLoader
 * (single-flight population from the database, loaded marker, load id, meta), Membership (who
 * is in a shard: member keys, this instance's members and their heartbeat, empty-since),
 * FileStore (tree, shard clock, updates, atomic edit/create/rename/delete) and SyncStore
 * (snapshot, compaction, eviction, inspection) — `createShardCache` builds all four. Every
 * atomic step is a Lua script in lua/ (one file each, header naming KEYS, ARGV and reply),
 * run through the typed wrappers of scripts.ts. Also the Yjs helpers for file states.
 * Imports persistence, redis, config, logging, errors and protocol; never realtime or http.
 */
export { createShardCache, type ShardCache, type ShardCacheDeps } from './shard-cache.js';
export { ShardLoader, type ShardLoaderDeps, type JoinView } from './shard-loader.js';
export { Membership, type MembershipDeps, type InstanceDeath } from './membership.js';
export { FileStore, newFileId, maxDocBytes, type FileStoreDeps } from './file-store.js';
export { SyncStore, type SyncStoreDeps } from './sync-store.js';
export { DirtyMarks, type DirtyMarksDeps } from './dirty-marks.js';
export { ShardActivity, type ShardActivityDeps } from './shard-activity.js';
export { HistoryAuthors, type HistoryAuthor, type AuthorNote, type AuthorNotes } from './history-authors.js';
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
  PutBlobResult,
} from './types.js';
export {
  TEXT_NAME,
  stateFromText,
  textFromUpdates,
  mergeToState,
  mergeUpdatesBalanced,
  updateToText,
  isValidUpdate,
  checkTextUpdate,
  integrateIntoState,
  advanceState,
  type StateVector,
  type TextUpdate,
} from './ydoc.js';
export { FileStateVectors } from './file-state-vectors.js';
export { isBacklogRefusal } from './script-errors.js';
export type { StoredEdit } from './scripts.js';
