import type { FileId, RestoredEvent, ShardId, TreeChange } from '@tandem/protocol';

/** Where the service announces changes so live collaborators see them (the socket rooms). */
export interface ShardEvents {
  /**
   * `onlyHere`: the store found no other instance with a socket in the shard, so only this
   * instance's sockets are told (no publish to the other instances).
   */
  fileEdited(
    shardId: ShardId,
    fileId: FileId,
    update: Uint8Array,
    version: number,
    exceptSocketId?: string,
    onlyHere?: boolean,
  ): void;
  treeChanged(shardId: ShardId, change: TreeChange, version: number): void;
  /**
   * The shard was (re)loaded from the database, or this instance found that Redis lost its record
   * of its sockets: anyone already in it should resync. `onlyHere`: only this instance's sockets
   * are told (the heartbeat's case; a load is always told to every instance).
   */
  reloaded(shardId: ShardId, onlyHere?: boolean): void;
  /** Someone restored (part of) the shard to a checkpoint. */
  restored(event: RestoredEvent): void;
  /** The shard was deleted: tell everyone in it and take them out of it, on every instance. */
  deleted(shardId: ShardId): void;
  /** The shard was renamed. */
  renamed(shardId: ShardId, name: string): void;
}
