import { ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import {
  CheckpointReason,
  type CheckpointMeta,
  type CreateCheckpointInput,
  type IShardRepository,
} from '../persistence/index.js';
import type { ShardCache } from '../shard-cache/index.js';
import type { Faults } from '../faults/index.js';
import type { HistoryThreads } from './history-threads.js';

export type TreeWriteThroughDeps = {
  cache: ShardCache;
  repository: IShardRepository;
  logger: Logger;
  /** Test-only fault injection after the broadcast and before the database write. */
  faults?: Faults | undefined;
  /** Merges the dirty files' updates for a before-delete checkpoint, off the event loop. */
  threads: HistoryThreads;
  /** Tells the room about the before-delete checkpoint; never rejects. */
  announceCheckpoint: (shardId: ShardId, checkpoint: CheckpointMeta) => Promise<void>;
};

/** A write resolves with the load the written tree was read from. */
type Slot = { current: Promise<string>; next?: Promise<string>; deleted?: Set<FileId> };

const ignore = () => undefined;

/**
 * File operations are in the database before they are acknowledged (docs/internals.md "File
 * operations"): after each create, rename, move or delete, the shard's whole file tree is read
 * from Redis with the clock value it is current at and written with IShardRepository.writeTree,
 * which keeps only the newest tree. So no acknowledged file operation depends on Redis keeping it
 * until the next sync, and after Redis lost a shard its reload has every file and path (the text
 * of files not synced yet comes back from the clients' handshakes, as for any unsynced edit).
 * The tree carries the replies of the operations in it that the database does not hold yet
 * (under their opIds), so the reload also answers an operation sent again with its first outcome
 * (a "deleted" whose ack was lost stays a success, not "no longer exists").
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
  async write(shardId: ShardId, loadId: string, options: { deleted?: readonly FileId[] } = {}): Promise<void> {
    this.deps.faults?.afterStore('tree-broadcast');
    const written = await this.enqueue(shardId, new Set(options.deleted));
    // Redis lost the shard between the operation's store and the tree's read: the tree written is
    // the reload's, without the operation. Not acknowledged; sent again, it is applied anew.
    if (written !== loadId) throw reloadedError(shardId);
  }

  /** One write per shard at a time; resolves with the load of the tree it wrote. */
  private enqueue(shardId: ShardId, deleted: Set<FileId>): Promise<string> {
    const slot = this.slots.get(shardId);
    if (slot === undefined) return this.start(shardId, deleted);
    if (slot.next === undefined) {
      const next = deleted;
      slot.deleted = next;
      slot.next = slot.current.then(ignore, ignore).then(() => this.start(shardId, next));
    } else {
      for (const id of deleted) slot.deleted?.add(id);
    }
    return slot.next;
  }

  private start(shardId: ShardId, deleted: ReadonlySet<FileId>): Promise<string> {
    const current = this.writeOnce(shardId, deleted);
    const slot: Slot = { current };
    this.slots.set(shardId, slot);
    void current.then(ignore, ignore).then(() => {
      if (this.slots.get(shardId) === slot && slot.next === undefined) this.slots.delete(shardId);
    });
    return current;
  }

  private async writeOnce(shardId: ShardId, deleted: ReadonlySet<FileId>): Promise<string> {
    const tree = await this.deps.cache.files.treeAt(shardId);
    if (tree === null) {
      // Deleted meanwhile (DELETE /shards/:id purged its keys): the operation fails for good.
      if ((await this.deps.repository.findMetaById(shardId)) === null) {
        throw new AppError(ErrorCode.SHARD_NOT_FOUND, `shard ${shardId} was deleted`, { details: { shardId } });
      }
      // Redis lost the shard right after the operation was stored: it may be gone with it.
      throw reloadedError(shardId);
    }
    let stale: boolean;
    try {
      if (deleted.size > 0) await this.checkpointBeforeDelete(shardId, deleted);
      // Redis may lose the shard while this write waits: a load of the database before the commit
      // would lack the tree, and the operation must then not be acknowledged (the client sends
      // it again, to the new load). So the transaction checks that the load is still there.
      const written = await this.deps.repository.writeTree(
        { shardId, version: tree.version, files: tree.files, ops: tree.ops },
        { current: async () => (await this.deps.cache.sync.loadsHeld(new Map([[shardId, tree.loadId]]))).has(shardId) },
      );
      stale = written.stale === true;
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.SHARD_NOT_FOUND) throw error;
      this.deps.logger.warn({ shardId, err: error }, 'could not write the file tree to the database');
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the database did not take this change yet; retry', {
        details: { shardId, reason: 'database' },
        cause: error,
      });
    }
    if (stale) throw reloadedError(shardId);
    // Kept in Redis when this fails: the next tree written takes them along.
    await this.deps.cache.files
      .opsWritten(
        shardId,
        tree.ops.map((op) => op.opId),
      )
      .catch((error: unknown) => {
        this.deps.logger.warn({ shardId, err: error }, 'could not forget operation replies the database holds');
      });
    return tree.loadId;
  }

  /**
   * Version history: before a tree that deletes files is written, while the database still
   * holds them, records a "before-delete" checkpoint, so deleted files stay restorable. It holds
   * what Redis has and the database not yet (every dirty file's state, the deleted ones' last
   * edits included) without writing it to the files' rows: those stay the sync's. Nothing is
   * recorded when the database no longer holds any of the files (written through already).
   */
  private async checkpointBeforeDelete(shardId: ShardId, deleted: ReadonlySet<FileId>): Promise<void> {
    const snapshot = await this.deps.cache.sync.snapshot(shardId);
    const pending: NonNullable<CreateCheckpointInput['pending']>[number][] = [];
    const texts: typeof snapshot.files = [];
    for (const file of snapshot.files) {
      if (file.updates.length === 0 || (file.path === null && !deleted.has(file.id))) continue;
      // A binary file's bytes are its last entry; a text file's state is its merged updates.
      const bytes = file.updates.at(-1);
      if (file.kind !== 'binary') texts.push(file);
      else if (bytes !== undefined) pending.push({ id: file.id, version: file.version, ydocState: bytes });
    }
    // Merging a large unsynced backlog takes long: in a worker thread, not on this delete's
    // acknowledgement path on the event loop.
    const merged = await this.deps.threads.merge(texts.map((f) => f.updates));
    texts.forEach((file, i) => {
      const ydocState = merged[i]?.state;
      if (ydocState !== undefined) pending.push({ id: file.id, version: file.version, ydocState });
    });
    const notes = await this.deps.cache.authors.read(shardId);
    const checkpoint = await this.deps.repository.createCheckpoint({
      shardId,
      reason: CheckpointReason.BEFORE_DELETE,
      authors: notes.authors,
      pending,
      onlyIfStored: [...deleted],
    });
    // Cleared after the commit: a crash in between lists the same authors again next time, never fewer.
    if (checkpoint === null) return;
    await this.deps.cache.authors.clear(shardId, notes);
    await this.deps.announceCheckpoint(shardId, checkpoint);
  }
}

function reloadedError(shardId: ShardId): AppError {
  return new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the project was reloaded while saving this change; retry', {
    details: { shardId, reason: 'reloaded' },
  });
}
