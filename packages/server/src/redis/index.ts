/**
 * redis — the RedisManager singleton (named connection pool) and every key name (keys.ts).
 * Imports only protocol types; knows nothing of shards' meaning.
 */
export { RedisManager, ConnectionName, type ConnectionOptions } from './redis-manager.js';
export { shardKeys, openShardsKey, emptySinceKey, schedulerLockKey, parseShardKey, type ShardKeys, type ShardKeyPart } from './keys.js';
