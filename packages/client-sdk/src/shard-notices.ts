import type { CheckpointedEvent, ErrorBody, FileId, RestoredEvent, ShardId, TreeChange } from '@tandem/protocol';
import type { TandemSocket } from './socket-types.js';

/** What a session does with each server notice for its shard (protocol §6). */
export interface ShardNoticeHandlers {
  edited(fileId: FileId, update: Uint8Array, version: number): void;
  treeChanged(change: TreeChange, version: number): void;
  presenceUpdated(update: Uint8Array): void;
  /** `version`: the shard clock when it was sent (absent from older servers). */
  presenceRequested(version: number | undefined): void;
  saved(version: number): void;
  resync(): void;
  /** Someone restored (part of) the shard to a checkpoint (`shard:restored`). */
  restored(event: RestoredEvent): void;
  /** A checkpoint of the shard was recorded (`shard:checkpointed`). */
  checkpointed(event: CheckpointedEvent): void;
  /** The shard was deleted; the server already took this socket out of it. */
  deleted(): void;
  /** The shard was renamed. */
  renamed(name: string): void;
  /** A `shard:error` for this shard, or for the whole connection (`shardId: null`). */
  error(error: ErrorBody): void;
}

/** Routes the notices for `shardId` to `handlers`; returns the function that stops listening. */
export function listenToShard(socket: TandemSocket, shardId: ShardId, handlers: ShardNoticeHandlers): () => void {
  const onEdited = (e: { shardId: ShardId; fileId: FileId; update: Uint8Array; version: number }) => {
    if (e.shardId === shardId) handlers.edited(e.fileId, e.update, e.version);
  };
  const onTree = (e: { shardId: ShardId; change: TreeChange; version: number }) => {
    if (e.shardId === shardId) handlers.treeChanged(e.change, e.version);
  };
  const onPresence = (e: { shardId: ShardId; update: Uint8Array }) => {
    if (e.shardId === shardId) handlers.presenceUpdated(e.update);
  };
  const onRequested = (e: { shardId: ShardId; version?: number }) => {
    if (e.shardId === shardId) handlers.presenceRequested(typeof e.version === 'number' ? e.version : undefined);
  };
  const onSaved = (e: { shardId: ShardId; version: number }) => {
    if (e.shardId === shardId) handlers.saved(e.version);
  };
  const onResync = (e: { shardId: ShardId }) => {
    if (e.shardId === shardId) handlers.resync();
  };
  const onRestored = (e: RestoredEvent) => {
    if (e.shardId === shardId) handlers.restored(e);
  };
  const onCheckpointed = (e: CheckpointedEvent) => {
    if (e.shardId === shardId) handlers.checkpointed(e);
  };
  const onDeleted = (e: { shardId: ShardId }) => {
    if (e.shardId === shardId) handlers.deleted();
  };
  const onRenamed = (e: { shardId: ShardId; name: string }) => {
    if (e.shardId === shardId && typeof e.name === 'string') handlers.renamed(e.name);
  };
  const onError = (e: { shardId: ShardId | null; error: ErrorBody }) => {
    if (e.shardId === null || e.shardId === shardId) handlers.error(e.error);
  };
  socket.on('file:edited', onEdited);
  socket.on('tree:changed', onTree);
  socket.on('presence:updated', onPresence);
  socket.on('presence:requested', onRequested);
  socket.on('shard:saved', onSaved);
  socket.on('shard:resync', onResync);
  socket.on('shard:restored', onRestored);
  socket.on('shard:checkpointed', onCheckpointed);
  socket.on('shard:deleted', onDeleted);
  socket.on('shard:renamed', onRenamed);
  socket.on('shard:error', onError);
  return () => {
    socket.off('file:edited', onEdited);
    socket.off('tree:changed', onTree);
    socket.off('presence:updated', onPresence);
    socket.off('presence:requested', onRequested);
    socket.off('shard:saved', onSaved);
    socket.off('shard:resync', onResync);
    socket.off('shard:restored', onRestored);
    socket.off('shard:checkpointed', onCheckpointed);
    socket.off('shard:deleted', onDeleted);
    socket.off('shard:renamed', onRenamed);
    socket.off('shard:error', onError);
  };
}
