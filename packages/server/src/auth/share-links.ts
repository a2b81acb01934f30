import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { isShardId, type ShardId } from '@tandem/protocol';
import { shareLinkKey, shareLinksKey } from '../redis/index.js';

/** One share link of a shard, as listed by `GET /shards/:id/tokens` (never the token itself). */
export type ShareLink = {
  /** The link id (the token's `link.id` and `jti` claims). */
  id: string;
  shardId: ShardId;
  access: 'read' | 'write';
  /** The `sub` of the user whose token minted it (for a link minted with a link: that link's minter). */
  mintedBy: string;
  createdAtMs: number;
  expiresAtMs: number;
};

/**
 * The live share links of every shard. A link is valid only while its record exists: revoking
 * deletes the record, and each record expires with its link, so the registry holds no dead links.
 */
export interface ShareLinkRegistry {
  /** Records a new link. */
  add(link: ShareLink): Promise<void>;
  /** Whether the link exists and has neither expired nor been revoked. */
  isLive(shardId: ShardId, linkId: string): Promise<boolean>;
  /** Live links of the shard, oldest expiry first. */
  list(shardId: ShardId): Promise<ShareLink[]>;
  /** How many live links the shard has. */
  count(shardId: ShardId): Promise<number>;
  /** Revokes one link; false when it was not live. */
  revoke(shardId: ShardId, linkId: string): Promise<boolean>;
  /** Revokes every live link of the shard; returns their ids. */
  revokeAll(shardId: ShardId): Promise<string[]>;
}

const StoredLink = z.object({
  id: z.string(),
  shardId: z.custom<ShardId>(isShardId),
  access: z.enum(['read', 'write']),
  mintedBy: z.string(),
  createdAtMs: z.number(),
  expiresAtMs: z.number(),
});

/** The registry in Redis: a string per link (expiring with it) and a per-shard sorted set to list them. */
export class RedisShareLinkRegistry implements ShareLinkRegistry {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keyPrefix: string,
  ) {}

  async add(link: ShareLink): Promise<void> {
    const index = shareLinksKey(this.keyPrefix, link.shardId);
    // Both keys share the shard's hash tag, so the transaction runs on one Cluster slot. The index
    // lives as long as its longest link: NX gives a new index a TTL, GT only ever extends it.
    await this.redis
      .multi()
      .set(shareLinkKey(this.keyPrefix, link.shardId, link.id), JSON.stringify(link), 'PXAT', link.expiresAtMs)
      .zremrangebyscore(index, '-inf', Date.now())
      .zadd(index, link.expiresAtMs, link.id)
      .pexpireat(index, link.expiresAtMs, 'NX')
      .pexpireat(index, link.expiresAtMs, 'GT')
      .exec();
  }

  async isLive(shardId: ShardId, linkId: string): Promise<boolean> {
    return (await this.redis.exists(shareLinkKey(this.keyPrefix, shardId, linkId))) === 1;
  }

  async list(shardId: ShardId): Promise<ShareLink[]> {
    const ids = await this.liveIds(shardId);
    if (ids.length === 0) return [];
    const records = await this.redis.mget(ids.map((id) => shareLinkKey(this.keyPrefix, shardId, id)));
    const links: ShareLink[] = [];
    for (const record of records) {
      // Null: expired between the two reads.
      if (record === null) continue;
      const parsed = StoredLink.safeParse(safeJson(record));
      if (parsed.success) links.push(parsed.data);
    }
    return links;
  }

  async count(shardId: ShardId): Promise<number> {
    const index = shareLinksKey(this.keyPrefix, shardId);
    return this.redis.zcount(index, Date.now(), '+inf');
  }

  async revoke(shardId: ShardId, linkId: string): Promise<boolean> {
    const result = await this.redis
      .multi()
      .del(shareLinkKey(this.keyPrefix, shardId, linkId))
      .zrem(shareLinksKey(this.keyPrefix, shardId), linkId)
      .exec();
    return result?.[0]?.[1] === 1;
  }

  async revokeAll(shardId: ShardId): Promise<string[]> {
    const ids = await this.liveIds(shardId);
    if (ids.length === 0) return [];
    // Only the links read above: one minted meanwhile was minted after "revoke all" and stays.
    await this.redis
      .multi()
      .del(...ids.map((id) => shareLinkKey(this.keyPrefix, shardId, id)))
      .zrem(shareLinksKey(this.keyPrefix, shardId), ...ids)
      .exec();
    return ids;
  }

  private async liveIds(shardId: ShardId): Promise<string[]> {
    const index = shareLinksKey(this.keyPrefix, shardId);
    const [, ids] = await Promise.all([
      this.redis.zremrangebyscore(index, '-inf', Date.now()),
      this.redis.zrangebyscore(index, Date.now(), '+inf'),
    ]);
    return ids;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // A record that does not parse is skipped by the schema check.
    return undefined;
  }
}
