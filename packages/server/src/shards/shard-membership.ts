import { randomUUID } from 'node:crypto';
import { ErrorCode, type FileEntry, type ShardId, type ShardClock, type ShardSummary } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { ShardCache } from '../shard-cache/index.js';
import { syncOnBacklog } from './backlog.js';
import type { ShardEvents } from './shard-events.js';

export type ShardMembershipDeps = {
  cache: ShardCache;
  /** Where a join that loaded the shard tells the room to resync. */
  events: Pick<ShardEvents, 'reloaded'>;
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

  /**
   * Adds a member and loads the shard if needed. On failure the member is removed again.
   * `instanceId`: the joining socket's instance; `othersPresent` tells whether an instance other
   * than it may have a socket in the shard (read after the load, with the join's snapshot).
   */
  async join(
    shardId: ShardId,
    member: string,
    instanceId?: string,
  ): Promise<{
    shard: ShardSummary;
    files: FileEntry[];
    version: number;
    clock?: ShardClock;
    othersPresent: boolean;
  }> {
    // Member first, then load: an eviction that runs after this point sees the member and
    // backs off; one that ran before leaves nothing, and the load below starts afresh.
    await this.deps.cache.members.add(shardId, member);
    let loaded = false;
    try {
      // A load this join makes is announced below, once the read says who may be in the room.
      loaded = await this.deps.cache.loader.ensureLoaded(shardId, { announce: false });
      const view = await this.deps.cache.loader.joinView(shardId, instanceId);
      if (view === null) throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard is not loaded; retry');
      const { shard, files, version, clock, othersPresent } = view;
      return { shard, files, version, ...(clock === null ? {} : { clock }), othersPresent };
    } catch (error) {
      await this.leaveAfterFailedLoad(shardId, member, error);
      throw error;
    } finally {
      // Sockets already in the room (after Redis lost the shard) resync, on every instance: the
      // member-instances entries are lost with the shard too, so "no other instance" cannot be
      // trusted here, and a socket not told at once may take a "saved" of the new load for its
      // lost edits (the likely cause of a false "saved" in the model test, seed 1429217084).
      // Presence requests may stay local.
      if (loaded) this.deps.events.reloaded(shardId);
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
    // However long the write takes (a restore, a delete's checkpoint), the shard stays open.
    const stopKeepAlive = this.deps.cache.members.keepAlive(shardId, member);
    try {
      await this.deps.cache.loader.ensureLoaded(shardId);
    } catch (error) {
      await stopKeepAlive();
      await this.leaveAfterFailedLoad(shardId, member, error);
      throw error;
    }
    try {
      return await syncOnBacklog(shardId, this.deps.onBacklog, op);
    } finally {
      await stopKeepAlive();
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
