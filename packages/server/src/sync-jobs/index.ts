/**
 * sync-jobs — the BullMQ sync queue (producer), its worker (jobs in worker threads), the
 * processor (thread entry), syncShard (the flush logic) and the cluster-wide scheduler.
 * Imports shard-cache, persistence, redis, config, logging, errors, protocol; never realtime
 * or http (saved versions are announced on a Redis channel the realtime module relays).
 */
export {
  syncShard,
  syncShards,
  type ShardSyncOutcome,
  type SyncShardDeps,
  type SyncShardResult,
  type SavedEvent,
} from './sync-shard.js';
export { SyncQueue, SYNC_QUEUE_NAME, bullPrefix, syncPartitionOf } from './sync-queue.js';
export { createSyncWorker, processorFile, type SyncWorkerEvents } from './sync-worker.js';
export { SyncScheduler } from './sync-scheduler.js';
export { SyncJobData, checkpointsChannel, savedChannel, type SyncJobResult } from './sync-job-data.js';
export {
  announceCheckpoint,
  recordCheckpoint,
  type RecordCheckpointDeps,
  type RecordCheckpointOptions,
} from './record-checkpoint.js';
export { HistoryPruner, HISTORY_QUEUE_NAME } from './history-pruner.js';
