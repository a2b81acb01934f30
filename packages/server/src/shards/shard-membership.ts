import { randomUUID } from 'node:crypto';
import { ErrorCode, type FileEntry, type ShardId, type ShardClock, type ShardSummary } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { ShardCache } from '../shard-cache/index.js';
import { syncOnBacklog } from './backlog.js';

export type ShardMembershipDeps = {
  cache: ShardCache;
  /** Called when the last member anywhere in the cluster left a shard. */
  onLastLeave: (shardId: ShardId) => void;
  /** A write was refused for the shard's unsynced backlog: sync that shard now. */
  onBacklog?: (shardId: ShardId) => void;
};

/**
 * Who holds a shard open: a member (a socket, or a REST write while it runs) keeps the shard
 * loaded in Redis, and eviction backs off while any member is left. Access is checked by the caller.
 */
export class ShardMembership {
  constructor(private readonly deps: ShardMembershipDeps) {}

  /** Adds a member and loads the shard if needed. On failure the member is removed again. */
  async join(
    shardId: ShardId,
    member: string,
  ): Promise<{ shard: ShardSummary; files: FileEntry[]; version: number; clock?: ShardClock }> {
    // Member first, then load: an eviction that runs after this point sees the member and
    // backs off; one that ran before leaves nothing, and the load below starts afresh.
    await this.deps.cache.members.add(shardId, member);
    try {
      await this.deps.cache.loader.ensureLoaded(shardId);
      const meta = await this.deps.cache.loader.meta(shardId);
      if (meta === null) throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard is not loaded; retry');
      const [files, version, clock] = await Promise.all([
        this.deps.cache.files.tree(shardId),
        this.deps.cache.files.version(shardId),
        this.deps.cache.loader.clock(shardId),
      ]);
      return { shard: meta, files, version, ...(clock === null ? {} : { clock }) };
    } catch (error) {
      await this.leaveAfterFailedLoad(shardId, member, error);
      throw error;
    }
  }

  /** Removes a member; the last one out anywhere triggers the last-leave hook. */
  async leave(shardId: ShardId, member: string): Promise<void> {
    const left = await this.deps.cache.members.remove(shardId, member);
    if (left === 0) this.deps.onLastLeave(shardId);
  }

  /** Runs a write with the shard open, as a short-lived member, so eviction cannot interleave. */
  async transiently<T>(shardId: ShardId, op: () => Promise<T>): Promise<T> {
    const member = `rest:${randomUUID()}`;
    await this.deps.cache.members.add(shardId, member);
    try {
      await this.deps.cache.loader.ensureLoaded(shardId);
    } catch (error) {
      await this.leaveAfterFailedLoad(shardId, member, error);
      throw error;
    }
    try {
      return await syncOnBacklog(shardId, this.deps.onBacklog, op);
    } finally {
      await this.leave(shardId, member);
    }
  }

  /**
   * Removes a member whose load failed. When the shard does not exist (never did, or was just
   * deleted) there is nothing to flush or evict: the last-leave hook would only leave a stray
   * "empty since" entry behind for a shard no scan ever opens.
   */
  private async leaveAfterFailedLoad(shardId: ShardId, member: string, error: unknown): Promise<void> {
    if (error instanceof AppError && error.code === ErrorCode.SHARD_NOT_FOUND) {
      await this.deps.cache.members.remove(shardId, member);
      return;
    }
    await this.leave(shardId, member);
  }
}
