/**
 * shards — ShardService, the one door for reading and writing shards from REST and sockets:
 * access checks, path rules, writes through the Redis cache, broadcasts through ShardEvents.
 * Imports shard-cache, templates, auth, persistence types, config, logging, errors, protocol.
 */
export { ShardService, type ShardEvents, type ShardServiceDeps } from './shard-service.js';
export type { FileRead } from './shard-reader.js';
export { ShardHistory, type CheckpointNow } from './shard-history.js';
export { createHistoryThreads, type HistoryThreads } from './history-threads.js';
