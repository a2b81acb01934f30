import { ErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { IShardRepository } from '../persistence/index.js';
import type { ShardCache } from '../shard-cache/index.js';

export type TreeWriteThroughDeps = {
  cache: ShardCache;
  repository: IShardRepository;
  logger: Logger;
};

type Slot = { current: Promise<void>; next?: Promise<void> };

const ignore = () => undefined;

/**
 * File operations are in the database before they are acknowledged (docs/internals.md "File
 * operations"): after each create, rename, move or delete, the shard's whole file tree is read
 * from Redis with the clock value it is current at and written with IShardRepository.writeTree,
 * which keeps only the newest tree. So no acknowledged file operation depends on Redis keeping it
 * until the next sync, and after Redis lost a shard its reload has every file and path (the text
 * of files not synced yet comes back from the clients' handshakes, as for any unsynced edit).
 *
 * One write per shard at a time in this process; operations stored while one runs share the
 * next, which reads the tree after all of them.
 */
export class TreeWriteThrough {
  private readonly slots = new Map<ShardId, Slot>();

  constructor(private readonly deps: TreeWriteThroughDeps) {}

  /**
   * Resolves once a tree read after this call is in the database. Rejects with a retryable
   * SHARD_UNAVAILABLE when the database cannot be written or Redis no longer holds the shard:
   * the operation is in the live state but not acknowledged; sent again with its opId, it is
   * answered with its first outcome and written through again.
   */
  write(shardId: ShardId): Promise<void> {
    const slot = this.slots.get(shardId);
    if (slot === undefined) return this.start(shardId);
    slot.next ??= slot.current.then(ignore, ignore).then(() => this.start(shardId));
    return slot.next;
  }

  private start(shardId: ShardId): Promise<void> {
    const current = this.writeOnce(shardId);
    const slot: Slot = { current };
    this.slots.set(shardId, slot);
    void current.then(ignore, ignore).then(() => {
      if (this.slots.get(shardId) === slot && slot.next === undefined) this.slots.delete(shardId);
    });
    return current;
  }

  private async writeOnce(shardId: ShardId): Promise<void> {
    const tree = await this.deps.cache.files.treeAt(shardId);
    if (tree === null) {
      // Deleted meanwhile (DELETE /shards/:id purged its keys): the operation fails for good.
      if ((await this.deps.repository.findMetaById(shardId)) === null) {
        throw new AppError(ErrorCode.SHARD_NOT_FOUND, `shard ${shardId} was deleted`, { details: { shardId } });
      }
      // Redis lost the shard right after the operation was stored: it may be gone with it.
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the project was reloaded while saving this change; retry', {
        details: { shardId, reason: 'reloaded' },
      });
    }
    try {
      await this.deps.repository.writeTree({ shardId, version: tree.version, files: tree.files });
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.SHARD_NOT_FOUND) throw error;
      this.deps.logger.warn({ shardId, err: error }, 'could not write the file tree to the database');
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the database did not take this change yet; retry', {
        details: { shardId, reason: 'database' },
        cause: error,
      });
    }
  }
}
