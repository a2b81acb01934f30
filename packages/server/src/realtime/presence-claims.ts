import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { presenceOwnersKey, shardKeys } from '../redis/index.js';

/**
 * Claims awareness client ids for a member (`<instance>:<socket>`), cluster-wide. An id is free
 * when nobody holds it or its holder is no longer a live member of the shard (its instance died,
 * or it left without releasing). KEYS: owners hash, the shard's members zset. ARGV: member, ttlMs,
 * client ids… → 1 claimed (all of them), 0 one is held by another live member (none claimed).
 */
const CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner and owner ~= ARGV[1] then
    local expiry = redis.call('ZSCORE', KEYS[2], owner)
    if expiry and tonumber(expiry) > now then return 0 end
  end
end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Releases the ids a member still holds. KEYS: owners hash. ARGV: member, client ids… */
const RELEASE = `
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
`;

type Scripts = {
  tandemPresenceClaim(...args: Array<string | number>): Promise<number>;
  tandemPresenceRelease(...args: Array<string | number>): Promise<number>;
};

export type PresenceClaimsDeps = {
  /** Where client-id ownership is recorded for the whole cluster. */
  redis: Redis | Cluster;
  keyPrefix: string;
  /** This instance's id: members are `<instanceId>:<socketId>`, as in the shard's members set. */
  instanceId: string;
  /** How long a claim outlives the last heartbeat that refreshed it (members expire after memberTtlMs). */
  claimTtlMs: number;
};

/**
 * Who owns which awareness client id in a shard, cluster-wide: a hash per shard (client id →
 * member), checked against the shard's live members, so an id held by a socket that is gone
 * (its instance died, or it left without releasing) is free again.
 */
export class PresenceClaims {
  private readonly redis: (Redis | Cluster) & Scripts;

  constructor(private readonly deps: PresenceClaimsDeps) {
    const redis = deps.redis as (Redis | Cluster) & Partial<Scripts>;
    if (redis.tandemPresenceClaim === undefined)
      deps.redis.defineCommand('tandemPresenceClaim', { numberOfKeys: 2, lua: CLAIM });
    if (redis.tandemPresenceRelease === undefined) {
      deps.redis.defineCommand('tandemPresenceRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.redis = deps.redis as (Redis | Cluster) & Scripts;
  }

  /** Claims every id for the socket, or none: false when another live member holds one of them. */
  async claim(shardId: ShardId, socketId: string, clientIds: readonly number[]): Promise<boolean> {
    const k = this.keys(shardId);
    const claimed = await this.redis.tandemPresenceClaim(
      k.owners,
      k.members,
      this.member(socketId),
      this.deps.claimTtlMs,
      ...clientIds,
    );
    return claimed === 1;
  }

  /** Releases those of the ids the socket still holds. */
  release(shardId: ShardId, socketId: string, clientIds: Iterable<number>): Promise<void> {
    return this.redis
      .tandemPresenceRelease(this.keys(shardId).owners, this.member(socketId), ...clientIds)
      .then(() => undefined);
  }

  /** Keeps the claims of these shards alive for another claimTtlMs. */
  async refresh(shardIds: readonly ShardId[]): Promise<void> {
    await Promise.all(
      shardIds.map((id) => this.redis.pexpire(presenceOwnersKey(this.deps.keyPrefix, id), this.deps.claimTtlMs)),
    );
  }

  private member(socketId: string): string {
    return `${this.deps.instanceId}:${socketId}`;
  }

  private keys(shardId: ShardId): { owners: string; members: string } {
    return {
      owners: presenceOwnersKey(this.deps.keyPrefix, shardId),
      members: shardKeys(this.deps.keyPrefix, shardId).members,
    };
  }
}
