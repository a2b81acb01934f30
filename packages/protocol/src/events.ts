import type { Ack, ErrorBody } from './errors.js';
import type { FileEntry, FileSyncResult, JoinResult, TreeChange } from './dto.js';
import type { z } from 'zod';
import {
  FileCreatePayload,
  FileDeletePayload,
  FileEditPayload,
  FileRenamePayload,
  FileSyncPayload,
  JoinPayload,
  LeavePayload,
  PresenceUpdatePayload,
} from './schemas.js';
import type { FileId, ShardId } from './ids.js';
import type { CheckpointedEvent, RestoredEvent } from './history.js';

/** Callback shape of every acknowledged client event. */
export type AckFn<T> = (ack: Ack<T>) => void;

/**
 * Events a client sends. Commands are imperative `noun:verb`. Every one is acknowledged with
 * `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.
 */
export type ClientToServerEvents = {
  /** Join a shard's room; loads the shard into the cache when nobody had it open. */
  'shard:join': (payload: JoinPayload, ack: AckFn<JoinResult>) => void;
  /** Leave a shard's room. */
  'shard:leave': (payload: LeavePayload, ack: AckFn<null>) => void;
  /** Yjs sync step 1 for one file: send the client's state vector, get what it lacks. */
  'file:sync': (payload: FileSyncPayload, ack: AckFn<FileSyncResult>) => void;
  /** Apply a Yjs update to a file. The ack means the update is stored in Redis. */
  'file:edit': (payload: FileEditPayload, ack: AckFn<{ version: number }>) => void;
  /** Create a file (with optional initial text). */
  'file:create': (payload: FileCreatePayload, ack: AckFn<{ file: FileEntry; version: number }>) => void;
  /** Rename or move a file or a whole folder. */
  'file:rename': (
    payload: FileRenamePayload,
    ack: AckFn<{ moves: Array<{ id: FileId; from: string; to: string }>; version: number }>,
  ) => void;
  /** Delete a file or a whole folder. */
  'file:delete': (payload: FileDeletePayload, ack: AckFn<{ files: FileEntry[]; version: number }>) => void;
  /** Relay a y-protocols awareness update (cursor, selection, open file, user). Never stored. */
  'presence:update': (payload: PresenceUpdatePayload, ack?: AckFn<null>) => void;
};

/** The name of every client event, in the order of the event map. */
export const CLIENT_EVENT_NAMES = [
  'shard:join',
  'shard:leave',
  'file:sync',
  'file:edit',
  'file:create',
  'file:rename',
  'file:delete',
  'presence:update',
] as const satisfies ReadonlyArray<keyof ClientToServerEvents>;

/** The payload a client event carries. */
export type ClientPayload<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[0];

/** The data a client event's successful ack carries. */
export type AckData<E extends keyof ClientToServerEvents> =
  NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends AckFn<infer T> ? T : never;

/**
 * The schema that validates each client event's payload, one per event of the map: a missing or
 * extra event, or a schema whose output is not the event's payload type, fails to compile.
 */
export const CLIENT_EVENT_SCHEMAS = {
  'shard:join': JoinPayload,
  'shard:leave': LeavePayload,
  'file:sync': FileSyncPayload,
  'file:edit': FileEditPayload,
  'file:create': FileCreatePayload,
  'file:rename': FileRenamePayload,
  'file:delete': FileDeletePayload,
  'presence:update': PresenceUpdatePayload,
} as const satisfies { [E in keyof ClientToServerEvents]: z.ZodType<ClientPayload<E>> };

// Fails to compile, naming the event, when one is added to the map but not to the list above.
type UnlistedClientEvent = Exclude<keyof ClientToServerEvents, (typeof CLIENT_EVENT_NAMES)[number]>;
const everyClientEventListed: [UnlistedClientEvent] extends [never] ? true : UnlistedClientEvent = true;
void everyClientEventListed;

/** Notices the server sends; past tense `noun:verb`. */
export type ServerToClientEvents = {
  /** Someone applied a Yjs update to a file. */
  'file:edited': (event: { shardId: ShardId; fileId: FileId; update: Uint8Array; version: number }) => void;
  /** The file tree changed. */
  'tree:changed': (event: { shardId: ShardId; change: TreeChange; version: number }) => void;
  /** Awareness of other collaborators changed (a y-protocols awareness update, coalesced per tick). */
  'presence:updated': (event: { shardId: ShardId; update: Uint8Array }) => void;
  /**
   * Someone joined (or the members of a dead instance expired): send your full local awareness
   * state (presence:update) so they see you. `version` is the shard clock at that moment: a client
   * that has not seen every version up to it (as `file:edited`, `tree:changed` or its own acks)
   * missed a notice and must rejoin (see docs/protocol.md, "Gaps").
   */
  'presence:requested': (event: { shardId: ShardId; version: number }) => void;
  /** The database now holds each listed file at least up to the given version. */
  'shard:saved': (event: { shardId: ShardId; version: number; files: Array<{ id: FileId; version: number }> }) => void;
  /**
   * The shard was loaded again from the database while people were in it (Redis lost it): run
   * the sync handshake (`file:sync`) again for every open file, so edits the server lost are
   * sent back, and re-read the tree.
   */
  'shard:resync': (event: { shardId: ShardId }) => void;
  /**
   * Someone restored a file, a folder or the whole shard to a checkpoint. The restore itself
   * arrives as ordinary `file:edited` and `tree:changed` notices; this says who did it and how to
   * undo it (restore checkpoint `before`).
   */
  'shard:restored': (event: RestoredEvent) => void;
  /**
   * A checkpoint of the shard was recorded: named by someone ("Name this version") or automatic
   * (interval, last leave, before a delete or a restore), by any instance or sync worker. A
   * history view adds it to its list without asking again.
   */
  'shard:checkpointed': (event: CheckpointedEvent) => void;
  /**
   * The shard was deleted (DELETE /shards/:id). The server has already taken this socket out of
   * the shard's room: nothing more arrives for it, and any edit not yet acknowledged is gone.
   */
  'shard:deleted': (event: { shardId: ShardId }) => void;
  /** The shard was renamed (PATCH /shards/:id). */
  'shard:renamed': (event: { shardId: ShardId; name: string }) => void;
  /** The server refused something outside an ack (e.g. an unacknowledged presence update), or revoked access. */
  'shard:error': (event: { shardId: ShardId | null; error: ErrorBody }) => void;
};

/**
 * Events between server instances (socket.io `serverSideEmit`, carried by the Redis adapter).
 * Room broadcasts need none; these ask every instance to act on its own sockets.
 */
export type InterServerEvents = {
  /** A shard was deleted: take your sockets out of it (and tell them `shard:deleted`). */
  'shard:deleted': (shardId: ShardId) => void;
};
