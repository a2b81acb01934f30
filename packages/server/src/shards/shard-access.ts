import { ErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import { accessTo, assertAccess, type Access, type Principal } from '../auth/index.js';
import type { IShardRepository } from '../persistence/index.js';
import type { ShardCache } from '../shard-cache/index.js';

export type ShardAccessDeps = {
  repository: IShardRepository;
  cache: ShardCache;
};

/**
 * What a caller may do with a shard: what their token's claims grant (role, `shards`), and
 * write access to the shards they own (the `sub` that created them). Claims are checked first
 * and cost nothing; ownership is looked up only when claims fall short, once per principal and
 * shard (a socket keeps its principal for its whole connection, so an owner's edits do not look
 * it up again). Share links never own anything.
 */
export class ShardAccess {
  /** Shards each principal was found to own (principals are per request or per socket). */
  private readonly owned = new WeakMap<Principal, Set<ShardId>>();

  constructor(private readonly deps: ShardAccessDeps) {}

  /** The access the principal has, ownership included. */
  async level(principal: Principal, shardId: ShardId): Promise<Access> {
    const claimed = accessTo(principal, shardId);
    if (claimed === 'write') return 'write';
    return (await this.isOwner(principal, shardId)) ? 'write' : claimed;
  }

  /** Throws FORBIDDEN (or READ_ONLY) unless the principal may read (or write) the shard. */
  async require(principal: Principal, shardId: ShardId, needed: 'read' | 'write'): Promise<void> {
    const claimed = accessTo(principal, shardId);
    if (claimed === 'write' || (claimed === 'read' && needed === 'read')) return;
    if (await this.isOwner(principal, shardId)) return;
    assertAccess(principal, shardId, needed);
  }

  /** Throws FORBIDDEN unless the principal owns the shard or is an admin (deleting it). */
  async requireOwner(principal: Principal, shardId: ShardId): Promise<void> {
    if (principal.role === 'admin' || (await this.isOwner(principal, shardId))) return;
    // Someone who cannot even read it learns nothing more than from any other route.
    await this.require(principal, shardId, 'read');
    throw new AppError(ErrorCode.FORBIDDEN, 'only the owner of a shard (or an admin) may delete it', {
      details: { shardId },
    });
  }

  /** Remembers that the principal owns a shard it just created. */
  noteOwner(principal: Principal, shardId: ShardId): void {
    this.ownedBy(principal).add(shardId);
  }

  /** Whether the principal's `sub` created the shard (the cached meta when open, else the database). */
  async isOwner(principal: Principal, shardId: ShardId): Promise<boolean> {
    if (principal.link !== undefined) return false;
    if (this.owned.get(principal)?.has(shardId) === true) return true;
    const owner = await this.ownerOf(shardId);
    if (owner === null || owner !== principal.userId) return false;
    this.ownedBy(principal).add(shardId);
    return true;
  }

  private async ownerOf(shardId: ShardId): Promise<string | null> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) return cached.ownerId;
    let meta;
    try {
      meta = await this.deps.repository.findMetaById(shardId);
    } catch (error) {
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the database is not reachable; retry', { cause: error });
    }
    return meta?.ownerId ?? null;
  }

  private ownedBy(principal: Principal): Set<ShardId> {
    let set = this.owned.get(principal);
    if (set === undefined) {
      set = new Set();
      this.owned.set(principal, set);
    }
    return set;
  }
}
