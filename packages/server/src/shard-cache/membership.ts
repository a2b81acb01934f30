import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import type { Logger } from '../logging/index.js';
import { emptySinceKey, instancesKey, shardKeys, type ShardKeys } from '../redis/index.js';
import { ShardScripts } from './scripts.js';

export type MembershipDeps = {
  redis: Redis | Cluster;
  keyPrefix: string;
  logger: Logger;
  /** This instance's id: the first half of every member name it registers. */
  instanceId: string;
  memberTtlMs: number;
  heartbeatMs: number;
  /**
   * How long a member of one of this instance's sockets lives in a shard without a refresh
   * (default: memberTtlMs). Longer than memberTtlMs, the heartbeat refreshes each shard's members
   * only about every third of it (a slice of the shards per beat), and a dead instance's members
   * are pruned when its heartbeat entry lapses (see InstanceDeath) rather than by their expiry.
   */
  memberLeaseMs?: number;
};

/** An instance whose heartbeat lapsed: its members with an expiry up to `leaseBound` are gone. */
export type InstanceDeath = { instanceId: string; leaseBound: number };

/**
 * Who is in a shard, in one place: the cluster-wide member set of each shard (`members`: member →
 * expiry, so the members of a dead instance expire), this instance's own members (the local
 * registry its heartbeat keeps alive), and when each shard became empty (`empty-since`, for
 * eviction after a grace period). A member is `<instanceId>:<socketId>`, or `rest:<uuid>` for a
 * short-lived REST write.
 */
export class Membership {
  private readonly scripts: ShardScripts;
  private readonly local = new Map<ShardId, Set<string>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private beats = 0;
  private readonly leaseMs: number;
  /** Beats per refresh of one shard's members: the shards are refreshed in this many slices. */
  private readonly slices: number;

  constructor(private readonly deps: MembershipDeps) {
    this.scripts = new ShardScripts(deps.redis);
    this.leaseMs = Math.max(deps.memberLeaseMs ?? deps.memberTtlMs, deps.memberTtlMs);
    this.slices = Math.max(1, Math.floor(this.leaseMs / (3 * deps.heartbeatMs)));
  }

  /** The member name of one of this instance's sockets. */
  socketMember(socketId: string): string {
    return `${this.deps.instanceId}:${socketId}`;
  }

  /**
   * Adds (or refreshes) a member; returns the live member count. This instance's socket members
   * live for the member lease; others (a REST write's) for the member TTL.
   */
  add(shardId: ShardId, member: string): Promise<number> {
    const own = this.isOwn(member);
    return this.scripts.memberAdd(this.keys(shardId), {
      member,
      ttlMs: own ? this.leaseMs : this.deps.memberTtlMs,
      ...(own ? { instanceId: this.deps.instanceId } : {}),
    });
  }

  /**
   * Keeps a member that is not one of this instance's sockets (a REST write's) alive while it
   * runs: added again every third of the member TTL until the returned function is called (it
   * resolves once no refresh is in flight, so a later remove is not undone). Added once, a write
   * that outlived the TTL (a delete's checkpoint on a loaded machine) had its shard evicted under
   * it and failed as "reloaded".
   */
  keepAlive(shardId: ShardId, member: string): () => Promise<void> {
    let refreshing: Promise<unknown> = Promise.resolve();
    const timer = setInterval(
      () => {
        refreshing = this.add(shardId, member).catch((error: unknown) =>
          this.deps.logger.warn({ err: error, shardId }, 'could not refresh a member'),
        );
      },
      Math.max(50, Math.floor(this.deps.memberTtlMs / 3)),
    );
    timer.unref();
    return async () => {
      clearInterval(timer);
      await refreshing;
    };
  }

  /** Removes a member; returns how many live members are left in the whole cluster. */
  remove(shardId: ShardId, member: string): Promise<number> {
    return this.scripts.memberRemove(this.keys(shardId), {
      member,
      ...(this.isOwn(member) ? { instanceId: this.deps.instanceId } : {}),
    });
  }

  /** This instance's id (the first half of its socket members' names). */
  get instanceId(): string {
    return this.deps.instanceId;
  }

  /** Live members in the cluster. */
  count(shardId: ShardId): Promise<number> {
    return this.scripts.memberCount(this.keys(shardId).members);
  }

  // ---- this instance's members and their heartbeat ------------------------------------------

  /** Registers one of this instance's members, which the heartbeat keeps alive. */
  addLocal(shardId: ShardId, member: string): void {
    let set = this.local.get(shardId);
    if (set === undefined) {
      set = new Set();
      this.local.set(shardId, set);
    }
    set.add(member);
  }

  removeLocal(shardId: ShardId, member: string): void {
    const set = this.local.get(shardId);
    if (set === undefined) return;
    set.delete(member);
    if (set.size === 0) this.local.delete(shardId);
  }

  /** Shards with members on this instance. */
  localShards(): ShardId[] {
    return [...this.local.keys()];
  }

  /**
   * Every CACHE_HEARTBEAT_MS until close(): records that this instance lives (one Redis call),
   * and extends the lease of this instance's members in one slice of its shards, so each shard's
   * members are refreshed about every third of the lease (every beat when the lease is the member
   * TTL). When the instance's entry was gone (Redis lost it, or the scheduler took the instance
   * for dead and pruned its members), every shard's members are written again at once.
   * `alsoOnBeat` runs with the same slice of shards (what lives as long as those members, e.g.
   * their presence client ids); its failures are logged. `onLost` runs with every shard this
   * instance has members in when its entry was found gone (Redis lost it, or this instance was
   * taken for dead): other instances could not see its sockets meanwhile, so a reload of one of
   * those shards may not have been published to them (docs/internals.md, "Joins nobody else needs
   * to hear of").
   */
  startHeartbeat(
    alsoOnBeat?: (shardIds: readonly ShardId[]) => Promise<void>,
    onLost?: (shardIds: readonly ShardId[]) => void,
  ): void {
    if (this.heartbeat !== undefined) return;
    const beat = () => {
      const slice = this.beats++ % this.slices;
      const due = [...this.local.keys()].filter((id) => sliceOf(id, this.slices) === slice);
      void this.refreshShards(due)
        .then(() => this.beatInstance())
        .then(async (lost) => {
          if (!lost) return;
          const shardIds = this.localShards();
          await this.refreshShards(shardIds);
          onLost?.(shardIds);
        });
      alsoOnBeat?.(due).catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'heartbeat of what lives with the members failed'),
      );
    };
    this.heartbeat = setInterval(beat, this.deps.heartbeatMs);
    this.heartbeat.unref();
    // Registered at once, so the scheduler knows this instance before its first interval ends.
    void this.beatInstance();
  }

  /**
   * Records that this instance lives, after its members were refreshed: the scheduler takes an
   * instance whose entry lapsed for dead and inspects every open shard once (which prunes the
   * members it left). Failures are logged; the next beat writes it again.
   */
  async beatInstance(): Promise<boolean> {
    try {
      return await this.scripts.instanceBeat(instancesKey(this.deps.keyPrefix), {
        instanceId: this.deps.instanceId,
        memberTtlMs: this.deps.memberTtlMs,
        heartbeatMs: this.deps.heartbeatMs,
        leaseMs: this.leaseMs,
      });
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'instance heartbeat failed');
      return false;
    }
  }

  /** Instances whose heartbeat lapsed (all their TTL members expired); forgets them. */
  expireDeadInstances(): Promise<InstanceDeath[]> {
    return this.scripts.instancesExpire(instancesKey(this.deps.keyPrefix));
  }

  /** Extends the lease of this instance's members of every shard (re-adding any Redis lost). */
  refreshLocal(): Promise<void> {
    return this.refreshShards([...this.local.keys()]);
  }

  /** Extends the lease of this instance's members of these shards (re-adding any Redis lost). */
  async refreshShards(shardIds: readonly ShardId[]): Promise<void> {
    await Promise.all(
      shardIds.map((shardId) =>
        this.refresh(shardId, [...(this.local.get(shardId) ?? [])]).catch((error: unknown) =>
          this.deps.logger.warn({ err: error, shardId }, 'member heartbeat failed'),
        ),
      ),
    );
  }

  /** Stops the heartbeat. Idempotent. */
  close(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  // ---- empty shards ------------------------------------------------------------------------

  /** Records that nobody is in the shard any more (kept if already recorded). */
  async noteEmpty(shardId: ShardId, atMs: number): Promise<void> {
    await this.deps.redis.zadd(emptySinceKey(this.deps.keyPrefix), 'NX', atMs, shardId);
  }

  /** Forgets that the shard was empty (someone is in it again, or it was evicted). */
  async clearEmpty(shardId: ShardId): Promise<void> {
    await this.deps.redis.zrem(emptySinceKey(this.deps.keyPrefix), shardId);
  }

  /** When each empty shard became empty. */
  async emptySince(): Promise<Map<ShardId, number>> {
    const flat = await this.deps.redis.zrange(emptySinceKey(this.deps.keyPrefix), '0', '-1', 'WITHSCORES');
    const out = new Map<ShardId, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as ShardId, Number(flat[i + 1]));
    return out;
  }

  private async refresh(shardId: ShardId, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    await this.scripts.memberRefresh(this.keys(shardId), {
      members,
      ttlMs: this.leaseMs,
      instanceId: this.deps.instanceId,
    });
  }

  /** A member of one of this instance's sockets (not a REST write's). */
  private isOwn(member: string): boolean {
    return member.startsWith(`${this.deps.instanceId}:`);
  }

  private keys(shardId: ShardId): ShardKeys {
    return shardKeys(this.deps.keyPrefix, shardId);
  }
}

/** Which heartbeat slice refreshes a shard's members (a stable hash of its id). */
function sliceOf(shardId: ShardId, slices: number): number {
  if (slices === 1) return 0;
  let h = 0;
  for (let i = 0; i < shardId.length; i++) h = (Math.imul(h, 31) + shardId.charCodeAt(i)) | 0;
  return (h >>> 0) % slices;
}
