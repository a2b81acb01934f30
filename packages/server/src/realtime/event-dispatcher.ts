import {
  CLIENT_EVENT_NAMES,
  CLIENT_EVENT_SCHEMAS,
  ErrorCode,
  type Ack,
  type AckData,
  type ClientPayload,
  type ClientToServerEvents,
  type JoinResult,
  type ShardId,
} from '@tandem/protocol';
import type { z } from 'zod';
import { AppError, assertNever, toAppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import type { ShardService } from '../shards/index.js';
import type { Membership } from '../shard-cache/index.js';
import type { Faults } from '../faults/index.js';
import { MAX_CLIENT_IDS_PER_SOCKET, MAX_PRESENCE_NAME_LENGTH, type PresenceRelay } from './presence-relay.js';
import type { PresenceRequests } from './presence-requests.js';
import { roomOf, type TandemSocket } from './socket-server.js';

export type EventDispatcherDeps = {
  shards: ShardService;
  members: Membership;
  presence: PresenceRelay;
  presenceRequests: PresenceRequests;
  logger: Logger;
  /** Test-only fault injection (dropped acks). */
  faults?: Faults;
};

/** A presence update's size bound (fixed, see docs/protocol.md §5). */
const MAX_PRESENCE_UPDATE_BYTES = 64 * 1024;

/**
 * What each client event does: the protocol's schema validates its payload, one handler per event
 * (typed to return exactly that event's ack data) runs it, and the outcome is acked — or, for an
 * event sent without an ack, reported as `shard:error`. Built once per server, not per socket.
 */
export class EventDispatcher {
  constructor(private readonly deps: EventDispatcherDeps) {}

  /** Validates one event's payload, runs its handler and acks (or reports) the outcome. */
  async dispatch<E extends keyof ClientToServerEvents>(
    socket: TandemSocket,
    event: E,
    payload: unknown,
    reply: ((ack: Ack<AckData<E>>) => void) | undefined,
  ): Promise<void> {
    try {
      const schema: z.ZodType<ClientPayload<E>> = EVENT_SCHEMAS[event];
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        throw new AppError(
          ErrorCode.VALIDATION_FAILED,
          `invalid ${event} payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`,
        );
      }
      const data = await this.handlers[event](socket, parsed.data);
      if (this.deps.faults?.dropsAck(event) === true) return;
      reply?.({ ok: true, data });
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === ErrorCode.INTERNAL) {
        this.deps.logger.error({ err: appError.cause ?? error, event, socketId: socket.id }, 'event failed');
      }
      if (reply !== undefined) reply({ ok: false, error: appError.toBody() });
      else socket.emit('shard:error', { shardId: null, error: appError.toBody() });
    }
  }

  /**
   * Takes the socket out of a shard: presence, this instance's member registry, the room,
   * membership. For a deleted shard the last one out does not schedule a flush and eviction
   * (there is nothing left to flush, and the schedule would itself be a key left behind).
   */
  async leaveShard(socket: TandemSocket, shardId: ShardId, options: { deleted?: boolean } = {}): Promise<void> {
    socket.data.joined.delete(shardId);
    // Others see this user go at once instead of after the awareness timeout.
    this.deps.presence
      .removeSocket(shardId, socket.id)
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { err: error, shardId },
          'releasing presence client ids failed; they lapse with the member',
        ),
      );
    const member = this.deps.members.socketMember(socket.id);
    this.deps.members.removeLocal(shardId, member);
    await socket.leave(roomOf(shardId));
    if (options.deleted === true) await this.deps.shards.leaveDeleted(shardId, member);
    else await this.deps.shards.leave(shardId, member);
  }

  private readonly handlers: EventHandlers = {
    'shard:join': (socket, { shardId }) => this.join(socket, shardId),
    'shard:leave': async (socket, { shardId }) => {
      if (socket.data.joined.has(shardId)) await this.leaveShard(socket, shardId);
      return null;
    },
    'file:sync': (socket, { shardId, fileId, stateVector }) => {
      requireJoined(socket, shardId);
      return this.deps.shards.syncFile(socket.data.principal, shardId, fileId, stateVector);
    },
    'file:edit': async (socket, { shardId, fileId, update }) => {
      requireJoined(socket, shardId);
      const version = await this.deps.shards.edit(socket.data.principal, shardId, fileId, update, socket.id);
      return { version };
    },
    'file:create': (socket, { shardId, path, content, fileId, opId }) => {
      requireJoined(socket, shardId);
      return this.deps.shards.createFile(socket.data.principal, shardId, path, content ?? '', { fileId, opId });
    },
    'file:rename': (socket, { shardId, from, to, opId }) => {
      requireJoined(socket, shardId);
      return this.deps.shards.renameFile(socket.data.principal, shardId, from, to, { opId });
    },
    'file:delete': (socket, { shardId, path, opId }) => {
      requireJoined(socket, shardId);
      return this.deps.shards.deleteFile(socket.data.principal, shardId, path, { opId });
    },
    'presence:update': async (socket, { shardId, update }) => {
      requireJoined(socket, shardId);
      if (update.byteLength > MAX_PRESENCE_UPDATE_BYTES)
        throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'a presence update may hold at most 64 KiB');
      const outcome = await this.deps.presence.push(
        shardId,
        socket.id,
        update,
        () => socket.connected && socket.data.joined.has(shardId),
      );
      switch (outcome) {
        case 'ok':
          return null;
        case 'malformed':
          throw new AppError(ErrorCode.UPDATE_MALFORMED, 'the presence update is not a valid awareness update');
        case 'invalid-user':
          throw new AppError(
            ErrorCode.VALIDATION_FAILED,
            `presence "user" must be an object whose "name" is 1–${MAX_PRESENCE_NAME_LENGTH} printable characters and whose "color" and "colorLight" are hex colours (#rrggbb)`,
          );
        case 'too-many-client-ids':
          throw new AppError(
            ErrorCode.FORBIDDEN,
            `one connection may speak for at most ${MAX_CLIENT_IDS_PER_SOCKET} presence client ids in a shard`,
          );
        case 'not-yours':
          throw new AppError(
            ErrorCode.FORBIDDEN,
            'the presence update names a client id that belongs to another connection',
          );
        default:
          return assertNever(outcome);
      }
    },
  };

  private async join(socket: TandemSocket, shardId: ShardId): Promise<JoinResult> {
    const wasJoined = socket.data.joined.has(shardId);
    const member = this.deps.members.socketMember(socket.id);
    // In the room before the tree is read: a change made meanwhile is either in the tree we
    // return or in a tree:changed event with a higher version (the SDK keeps those).
    await socket.join(roomOf(shardId));
    let joined;
    try {
      joined = await this.deps.shards.join(socket.data.principal, shardId, member, this.deps.members.instanceId);
    } catch (error) {
      if (!wasJoined) await socket.leave(roomOf(shardId));
      throw error;
    }
    if (!socket.connected) {
      // Disconnected while loading: undo the membership the join just added.
      await this.deps.shards.leave(shardId, member);
      throw new AppError(ErrorCode.UNAVAILABLE, 'disconnected during join');
    }
    socket.data.joined.add(shardId);
    this.deps.members.addLocal(shardId, member);
    const { result, othersPresent } = joined;
    this.deps.presenceRequests.request(shardId, socket.id, result.version, !othersPresent);
    return result;
  }
}

const KNOWN_EVENTS: ReadonlySet<string> = new Set(CLIENT_EVENT_NAMES);

/** True when `event` names a client event of the protocol. */
export function isClientEvent(event: unknown): event is keyof ClientToServerEvents {
  return typeof event === 'string' && KNOWN_EVENTS.has(event);
}

function requireJoined(socket: TandemSocket, shardId: ShardId): void {
  if (!socket.data.joined.has(shardId)) {
    throw new AppError(ErrorCode.NOT_JOINED, 'join the shard (shard:join) before using it', { details: { shardId } });
  }
}

/** The protocol's schema table, seen per event (it was checked against the event map there). */
const EVENT_SCHEMAS: { [E in keyof ClientToServerEvents]: z.ZodType<ClientPayload<E>> } = CLIENT_EVENT_SCHEMAS;

type EventHandlers = {
  [E in keyof ClientToServerEvents]: (socket: TandemSocket, payload: ClientPayload<E>) => Promise<AckData<E>>;
};
