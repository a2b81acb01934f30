import type { Cluster, Redis } from 'ioredis';
import type { DependencyMap, ShardId } from '@tandem/protocol';
import type { Logger } from '../logging/index.js';
import { openShardsKey, shardKeys, type ShardKeys } from '../redis/index.js';
import { ShardScripts } from './scripts.js';
import type { DirtyMarks } from './dirty-marks.js';
import type { InstanceDeath, Membership } from './membership.js';
import type { CompactEntry, CompactOutcome, EvictOutcome, ShardInspection, ShardSnapshot } from './types.js';

export type SyncStoreDeps = {
  redis: Redis | Cluster;
  keyPrefix: string;
  logger: Logger;
  /** Forgets an evicted shard's empty-since entry. */
  members: Pick<Membership, 'clearEmpty'>;
  /** Marks a shard a sync left dirty again (see compact). */
  marks: Pick<DirtyMarks, 'markNow'>;
};

/**
 * What the sync jobs and the scheduler do with the cache: the atomic snapshot of dirty files,
 * compaction after a commit, the synced watermark, eviction, and the per-shard inspection of the
 * open shards.
 */
export class SyncStore {
  private readonly scripts: ShardScripts;

  constructor(private readonly deps: SyncStoreDeps) {
    this.scripts = new ShardScripts(deps.redis);
  }

  /** Shards currently cached. */
  async openShards(): Promise<ShardId[]> {
    return (await this.deps.redis.zrange(openShardsKey(this.deps.keyPrefix), '0', '-1')) as ShardId[];
  }

  /** How many shards are cached. */
  openCount(): Promise<number> {
    return this.deps.redis.zcard(openShardsKey(this.deps.keyPrefix));
  }

  /**
   * Scheduler view of one shard: prunes expired members, and the members of these dead
   * instances (see Membership.expireDeadInstances), and says how many.
   */
  inspect(shardId: ShardId, dead: readonly InstanceDeath[] = []): Promise<ShardInspection> {
    return this.scripts.inspect(this.keys(shardId), dead);
  }

  /** Number of files with unsynced changes. */
  dirtyCount(shardId: ShardId): Promise<number> {
    return this.deps.redis.zcard(this.keys(shardId).dirty);
  }

  /**
   * Which of these shards are still held by the load named (a snapshot's or a tree's `loadId`):
   * not lost, nor loaded again since. One HMGET each, sent together.
   */
  async loadsHeld(loads: ReadonlyMap<ShardId, string>): Promise<Set<ShardId>> {
    const entries = [...loads];
    const answers = await Promise.all(
      entries.map(([shardId]) => this.deps.redis.hmget(this.keys(shardId).meta, 'loaded', 'loadId')),
    );
    return new Set(
      entries.filter(([, loadId], i) => answers[i]?.[0] === '1' && answers[i]?.[1] === loadId).map(([id]) => id),
    );
  }

  /** Atomic read of the shard clock and every dirty file's updates. */
  snapshot(shardId: ShardId): Promise<ShardSnapshot> {
    return this.scripts.snapshot(this.keys(shardId));
  }

  /**
   * After a committed sync: compacts written files and clears their dirty marks, if the shard is
   * still the load the snapshot read. Otherwise (Redis lost the shard and it was loaded again)
   * it keeps the new load's clock above the committed watermark and leaves everything dirty
   * (see lua/compact.lua). `loading`: a load is running that may have read the database before
   * the commit; call again once it is done.
   */
  async compact(
    shardId: ShardId,
    snapshot: Pick<ShardSnapshot, 'loadId' | 'version'> & { timeMs: number },
    entries: readonly CompactEntry[],
  ): Promise<CompactOutcome> {
    const outcome = await this.scripts.compact(this.keys(shardId), {
      snapshotTimeMs: snapshot.timeMs,
      loadId: snapshot.loadId,
      version: snapshot.version,
      entries,
    });
    // A stale compaction marks files of the new load dirty: the scheduler must see the shard.
    if (outcome.kind === 'stale') await this.deps.marks.markNow([shardId]);
    return outcome;
  }

  /** Forgets pending operation replies (ShardSnapshot.ops) once the database holds them. */
  async opsWritten(shardId: ShardId, opIds: readonly string[]): Promise<void> {
    if (opIds.length > 0) await this.deps.redis.hdel(this.keys(shardId).opsPending, ...opIds);
  }

  /** Records what a sync wrote, so later reads of the meta show it. */
  async setSynced(
    shardId: ShardId,
    lastSyncTimestamp: number,
    dependencies?: { dependencies: DependencyMap; devDependencies: DependencyMap },
  ): Promise<void> {
    const k = this.keys(shardId);
    if ((await this.deps.redis.hget(k.meta, 'loaded')) !== '1') return;
    const fields: Record<string, string> = {
      lastSyncTimestamp: String(lastSyncTimestamp),
      updatedAt: new Date().toISOString(),
    };
    if (dependencies !== undefined) {
      fields['dependencies'] = JSON.stringify(dependencies.dependencies);
      fields['devDependencies'] = JSON.stringify(dependencies.devDependencies);
    }
    await this.deps.redis.hset(k.meta, fields);
  }

  /** Deletes the shard's keys if nobody is in it, nothing is unsynced and no load runs. */
  async evict(shardId: ShardId): Promise<EvictOutcome> {
    const outcome = await this.scripts.evict(this.keys(shardId));
    if (outcome === 'EVICTED') {
      await this.deps.redis.zrem(openShardsKey(this.deps.keyPrefix), shardId);
      await this.deps.members.clearEmpty(shardId);
      this.deps.logger.info({ shardId }, 'shard evicted from cache');
    }
    return outcome;
  }

  private keys(shardId: ShardId): ShardKeys {
    return shardKeys(this.deps.keyPrefix, shardId);
  }
}
