/**
 * redis — the RedisManager singleton (named connection pool) and every key name (keys.ts).
 * Imports only protocol types; knows nothing of shards' meaning.
 */
export {
  RedisManager,
  ConnectionName,
  createRedisConnection,
  type ConnectionOptions,
  type RedisConnection,
  type RedisTarget,
} from './redis-manager.js';
export {
  shardKeys,
  openShardsKey,
  dirtyShardsKey,
  instancesKey,
  emptySinceKey,
  schedulerLockKey,
  syncStartsKey,
  lastScanKey,
  restRateLimitPrefix,
  presenceOwnersKey,
  historyAuthorsKey,
  parseShardKey,
  shareLinkKey,
  shareLinksKey,
  type ShardKeys,
  type ShardKeyPart,
} from './keys.js';
