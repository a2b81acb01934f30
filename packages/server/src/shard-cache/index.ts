/**
 * shard-cache — the live state of open shards in Redis: single-flight population from the
 * database, cluster-wide membership, atomic edits and file-tree steps (Lua), the atomic
 * snapshot and compaction used by sync, and eviction. Also the Yjs helpers for file states.
 * Imports persistence, redis, config, logging, errors and protocol; never realtime or http.
 */
export {
  ShardCache,
  newFileId,
  withScripts,
  type ShardCacheDeps,
  type CachedMeta,
  type ShardSnapshot,
  type SnapshotFile,
  type CompactEntry,
  type CompactOutcome,
  type EvictOutcome,
  type ShardInspection,
} from './shard-cache.js';
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
