import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import type { Logger } from '../logging/index.js';
import { dirtyShardsKey } from '../redis/index.js';
import { ShardScripts } from './scripts.js';

export type DirtyMarksDeps = {
  redis: Redis | Cluster;
  keyPrefix: string;
  logger: Logger;
  /** How long marks gather before one Redis call sends them. Default 100 ms. */
  flushDelayMs?: number;
};

/**
 * Which shards may hold unsynced changes, cluster-wide (`dirty-shards`: shard → mark counter), so
 * the scheduler inspects those instead of every open shard. A change marks its shard after the
 * change is stored; marks gather for `flushDelayMs` and go to Redis in one call (one per
 * instance and flush, whatever the number of edits). The scheduler drops a mark only when its
 * inspection found nothing unsynced and the counter did not move (dirty-unmark.lua). A mark an
 * instance never sent (it died within the delay) is found by the scheduler's full scan that an
 * instance's death triggers.
 */
export class DirtyMarks {
  private readonly scripts: ShardScripts;
  private readonly key: string;
  private pending = new Set<ShardId>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly deps: DirtyMarksDeps) {
    this.scripts = new ShardScripts(deps.redis);
    this.key = dirtyShardsKey(deps.keyPrefix);
  }

  /** Notes that a change to the shard was stored; sent with the next flush. */
  mark(shardId: ShardId): void {
    this.pending.add(shardId);
    if (this.timer === undefined && this.flushing === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.deps.flushDelayMs ?? 100);
      this.timer.unref();
    }
  }

  /** Marks now (for rare paths that must not wait, e.g. a sync that left files dirty again). */
  async markNow(shardIds: readonly ShardId[]): Promise<void> {
    if (shardIds.length > 0) await this.scripts.dirtyMark(this.key, shardIds);
  }

  /** Sends the pending marks. A failure keeps them for the next flush; never rejects. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing !== undefined) return this.flushing.then(() => this.flush());
    if (this.pending.size === 0) return Promise.resolve();
    const batch = [...this.pending];
    this.pending = new Set();
    this.flushing = this.scripts
      .dirtyMark(this.key, batch)
      .catch((error: unknown) => {
        for (const id of batch) this.pending.add(id);
        this.deps.logger.warn({ err: error, shards: batch.length }, 'could not mark shards dirty; retrying');
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.size > 0 && this.timer === undefined) {
          this.timer = setTimeout(() => void this.flush(), this.deps.flushDelayMs ?? 100);
          this.timer.unref();
          this.timer.unref();
        }
      });
    return this.flushing;
  }

  /** The marked shards and their counters. */
  async list(): Promise<Map<ShardId, number>> {
    const flat = await this.deps.redis.zrange(this.key, '0', '-1', 'WITHSCORES');
    const out = new Map<ShardId, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as ShardId, Number(flat[i + 1]));
    return out;
  }

  /** Drops the marks of these shards whose counters are still the ones seen. */
  unmark(seen: ReadonlyArray<readonly [ShardId, number]>): Promise<number> {
    return seen.length === 0 ? Promise.resolve(0) : this.scripts.dirtyUnmark(this.key, seen);
  }

  /** Sends what is pending and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
