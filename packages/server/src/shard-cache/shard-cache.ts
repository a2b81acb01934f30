import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { IShardRepository } from '../persistence/index.js';
import { DirtyMarks } from './dirty-marks.js';
import { FileStore } from './file-store.js';
import { HistoryAuthors } from './history-authors.js';
import { Membership } from './membership.js';
import { ShardActivity } from './shard-activity.js';
import { ShardLoader } from './shard-loader.js';
import { SyncStore } from './sync-store.js';

export type ShardCacheDeps = {
  redis: Redis | Cluster;
  repository: IShardRepository;
  logger: Logger;
  keyPrefix: string;
  /** This instance's id (member names). */
  instanceId: string;
  cache: Config['cache'];
  limits: Config['limits'];
  /** Called after this process loaded a shard from the database (metrics, resync notices). */
  onLoad?: (shardId: ShardId, durationMs: number, announce: boolean) => void;
};

/**
 * The live state of open shards in Redis, as parts that each own one thing: `loader`
 * (single-flight loads, the loaded marker, meta), `members` (who is in a shard), `files` (tree,
 * clock, updates, the atomic file steps), `sync` (snapshot, compaction, eviction, inspection),
 * `marks` (the shards with changes, for the scheduler), `activity` (their updated time, written to
 * the database before any sync) and `authors` (who changed a shard since its last checkpoint).
 */
export type ShardCache = {
  readonly loader: ShardLoader;
  readonly members: Membership;
  readonly files: FileStore;
  readonly sync: SyncStore;
  /** Which shards may hold unsynced changes (what the scheduler inspects). */
  readonly marks: DirtyMarks;
  /** Who changed a shard since its last checkpoint. */
  readonly authors: HistoryAuthors;
  /** The updated time of shards changed now, written to their rows before any sync. */
  readonly activity: ShardActivity;
};

export function createShardCache(deps: ShardCacheDeps): ShardCache {
  const { redis, keyPrefix, logger } = deps;
  const loader = new ShardLoader({
    redis,
    repository: deps.repository,
    logger,
    keyPrefix,
    cache: deps.cache,
    ...(deps.onLoad === undefined ? {} : { onLoad: deps.onLoad }),
  });
  const members = new Membership({
    redis,
    keyPrefix,
    logger,
    instanceId: deps.instanceId,
    memberTtlMs: deps.cache.memberTtlMs,
    memberLeaseMs: deps.cache.memberLeaseMs,
    heartbeatMs: deps.cache.heartbeatMs,
  });
  const marks = new DirtyMarks({ redis, keyPrefix, logger });
  const activity = new ShardActivity({ repository: deps.repository, logger });
  const files = new FileStore({ redis, keyPrefix, limits: deps.limits, loader, marks, activity });
  const sync = new SyncStore({ redis, keyPrefix, logger, members, marks });
  return { loader, members, files, sync, marks, activity, authors: new HistoryAuthors({ redis, keyPrefix }) };
}
