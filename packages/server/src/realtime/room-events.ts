import type { FileId, RestoredEvent, ShardId, TreeChange } from '@tandem/protocol';
import type { Faults } from '../faults/index.js';
import type { ShardEvents } from '../shards/index.js';
import { roomOf, type TandemServer } from './socket-server.js';

/**
 * Everything the app tells a shard's room: the ShardService's notices (but `deleted`, which also
 * takes sockets out of the room: SocketService.shardDeleted), and the shard clock.
 */
export type RoomEvents = Omit<ShardEvents, 'deleted'> & {
  /**
   * Tells everyone in a shard its current version (a `presence:requested`): after the members of
   * a dead instance expired, its collaborators' clients compare it with what they have and
   * re-check for notices they missed (docs/protocol.md, "Gaps").
   */
  versionAnnounced(shardId: ShardId, version: number): void;
};

/**
 * The room broadcasts, through the socket server (and its adapter, to every instance). `faults`
 * (tests only) may hold a tree notice back.
 */
export function createRoomEvents(io: TandemServer, faults?: Faults): RoomEvents {
  return {
    fileEdited: (
      shardId: ShardId,
      fileId: FileId,
      update: Uint8Array,
      version: number,
      exceptSocketId?: string,
      onlyHere?: boolean,
    ) => {
      // onlyHere: no other instance has a socket in the shard (the edit script said so), so the
      // adapter does not publish (socket.io's local flag).
      const room = onlyHere === true ? io.local.to(roomOf(shardId)) : io.to(roomOf(shardId));
      (exceptSocketId === undefined ? room : room.except(exceptSocketId)).emit('file:edited', {
        shardId,
        fileId,
        update,
        version,
      });
    },
    treeChanged: (shardId: ShardId, change: TreeChange, version: number) => {
      const emit = () => io.to(roomOf(shardId)).emit('tree:changed', { shardId, change, version });
      const hold = faults?.takeTreeNoticeHold();
      if (hold === undefined) emit();
      else void hold.then(emit);
    },
    reloaded: (shardId: ShardId, onlyHere?: boolean) => {
      (onlyHere === true ? io.local : io).to(roomOf(shardId)).emit('shard:resync', { shardId });
    },
    renamed: (shardId: ShardId, name: string) => {
      io.to(roomOf(shardId)).emit('shard:renamed', { shardId, name });
    },
    versionAnnounced: (shardId: ShardId, version: number) => {
      io.to(roomOf(shardId)).emit('presence:requested', { shardId, version });
    },
    restored: (event: RestoredEvent) => {
      io.to(roomOf(event.shardId)).emit('shard:restored', event);
    },
  };
}

/** A process that serves no sockets (`--role worker`) has no rooms to tell. */
export const NO_ROOM_EVENTS: RoomEvents = {
  fileEdited: () => undefined,
  treeChanged: () => undefined,
  reloaded: () => undefined,
  renamed: () => undefined,
  versionAnnounced: () => undefined,
  restored: () => undefined,
};
