import type { Cluster, Redis } from 'ioredis';
import {
  CHECKPOINT_REASONS,
  ErrorCode,
  isFileId,
  isShardId,
  type Ack,
  type FileId,
  type ShardId,
} from '@tandem/protocol';
import { z } from 'zod';
import { toAppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { AuthService, LinkClaim } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import type { Membership } from '../shard-cache/index.js';
import type { Faults } from '../faults/index.js';
import { TokenBucket } from './token-bucket.js';
import { PresenceRelay } from './presence-relay.js';
import { PresenceRequests } from './presence-requests.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { EventDispatcher, isClientEvent } from './event-dispatcher.js';
import { roomOf, type TandemServer, type TandemSocket } from './socket-server.js';

export type SocketServiceDeps = {
  /** The socket server (createSocketServer), already carrying the room broadcasts. */
  io: TandemServer;
  shards: ShardService;
  /** Registers this instance's sockets in the shards they join (its heartbeat keeps them alive). */
  members: Membership;
  /** Command connection (presence client-id ownership). */
  redis: Redis | Cluster;
  keyPrefix: string;
  /** This instance's id: presence client ids are claimed in its name. */
  instanceId: string;
  /** How long a presence client-id claim lives without the heartbeat (the member TTL). */
  presenceClaimTtlMs: number;
  limits: Config['limits'];
  logger: Logger;
  auth: AuthService;
  /** Test-only fault injection (dropped acks). */
  faults?: Faults;
};

/**
 * The realtime side of a shard: handshake auth and the per-user connection cap, token expiry,
 * share-link revocation, the per-socket rate limit in front of the event dispatcher, presence,
 * "saved" notices from sync jobs, and an orderly close. Complete when constructed.
 */
export class SocketService {
  private readonly io: TandemServer;
  private readonly presence: PresenceRelay;
  private readonly presenceRequests: PresenceRequests;
  private readonly dispatcher: EventDispatcher;
  private readonly connections: ConnectionLimiter;
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: SocketServiceDeps) {
    this.io = deps.io;
    this.log = deps.logger.child({ module: 'realtime' });
    this.presence = new PresenceRelay({
      emit: (shardId, update) => this.io.to(roomOf(shardId)).emit('presence:updated', { shardId, update }),
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
      instanceId: deps.instanceId,
      claimTtlMs: deps.presenceClaimTtlMs,
    });
    this.presenceRequests = new PresenceRequests(this.io);
    this.connections = new ConnectionLimiter(deps.limits.maxConnectionsPerUser);
    this.dispatcher = new EventDispatcher({
      shards: deps.shards,
      members: deps.members,
      presence: this.presence,
      presenceRequests: this.presenceRequests,
      logger: this.log,
      ...(deps.faults === undefined ? {} : { faults: deps.faults }),
    });
    this.io.use((socket, next) => {
      const token: unknown = socket.handshake.auth['token'];
      deps.auth
        .verify(typeof token === 'string' ? token : undefined)
        .then((principal) => {
          this.connections.reserve(socket, principal);
          socket.data.principal = principal;
          socket.data.joined = new Set();
          socket.data.bucket = new TokenBucket(deps.limits.eventsPerSecond, deps.limits.eventsBurst);
          next();
        })
        .catch((error: unknown) => {
          const appError = toAppError(error);
          const err = new Error(appError.message) as Error & { data: unknown };
          err.data = appError.toBody();
          next(err);
        });
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    // Another instance deleted a shard: take this instance's sockets out of it.
    this.io.on('shard:deleted', (shardId: unknown) => {
      if (isShardId(shardId)) this.dropLocalSockets(shardId);
    });
  }

  /**
   * A shard was deleted: every socket in it, on every instance, gets `shard:deleted` and is taken
   * out of it (room, presence, membership), so nothing of the shard lingers in Redis or in memory.
   */
  shardDeleted(shardId: ShardId): void {
    this.io.serverSideEmit('shard:deleted', shardId);
    this.dropLocalSockets(shardId);
  }

  /** Renews this instance's presence client-id claims in these shards (on the membership heartbeat). */
  refreshPresence(shardIds: readonly ShardId[]): Promise<void> {
    return this.presence.refresh(shardIds);
  }

  /** Sockets connected to this instance. */
  connectedCount(): number {
    return this.io.of('/').sockets.size;
  }

  /**
   * Relays "saved" notices published by sync jobs (from any process) to this instance's sockets
   * in the shard's room. `subscriber` is a connection dedicated to this subscription.
   */
  async relaySaved(subscriber: Redis | Cluster, channel: string): Promise<void> {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const parsed = SavedNotice.safeParse(safeJson(message));
      if (!parsed.success) {
        this.log.warn({ channel }, 'ignoring a malformed saved notice');
        return;
      }
      const event = parsed.data;
      this.io.local.to(roomOf(event.shardId)).emit('shard:saved', event);
    });
    await subscriber.subscribe(channel);
  }

  /**
   * Relays checkpoints recorded anywhere (sync worker threads, any API instance) to this
   * instance's sockets in the shard's room as `shard:checkpointed`.
   */
  async relayCheckpoints(subscriber: Redis | Cluster, channel: string): Promise<void> {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const parsed = CheckpointedNotice.safeParse(safeJson(message));
      if (!parsed.success) {
        this.log.warn({ channel }, 'ignoring a malformed checkpoint notice');
        return;
      }
      this.io.local.to(roomOf(parsed.data.shardId)).emit('shard:checkpointed', parsed.data);
    });
    await subscriber.subscribe(channel);
  }

  /** Disconnects the sockets of revoked share links on every instance (through the adapter). */
  async disconnectShareLinks(linkIds: readonly string[]): Promise<void> {
    const rooms = linkIds.map(shareLinkRoom);
    this.io.to(rooms).emit('shard:error', {
      shardId: null,
      error: { code: ErrorCode.UNAUTHENTICATED, message: 'this share link was revoked; ask for a new one' },
    });
    this.io.in(rooms).disconnectSockets(true);
  }

  private dropLocalSockets(shardId: ShardId): void {
    const ids = this.io.of('/').adapter.rooms.get(roomOf(shardId));
    if (ids === undefined) return;
    for (const id of [...ids]) {
      const socket = this.io.of('/').sockets.get(id);
      if (socket === undefined) continue;
      // Told before it leaves the room, on its own socket: the notice cannot arrive after the leave.
      socket.emit('shard:deleted', { shardId });
      this.dispatcher
        .leaveShard(socket, shardId, { deleted: true })
        .catch((error: unknown) =>
          this.log.warn(
            { err: error, shardId, socketId: id },
            'leaving a deleted shard failed; the member will expire',
          ),
        );
    }
  }

  private onConnection(socket: TandemSocket): void {
    // Made when something is logged: a child logger per idle socket is memory for nothing.
    const log = () => this.log.child({ socketId: socket.id, userId: socket.data.principal.userId });
    if (this.log.isLevelEnabled('debug')) log().debug('socket connected');
    const expiresAt = socket.data.principal.expiresAtMs;
    const expiry = expiresAt === null ? undefined : disconnectWhenExpired(socket, expiresAt);
    const link = socket.data.principal.link;
    if (link !== undefined) this.watchShareLink(socket, link, log());

    // Every client event goes through this one middleware (no per-event listeners): expiry and
    // the rate limit first, then the dispatcher (schema, handler, ack).
    socket.use((packet) => {
      const [event, payload] = packet;
      const last: unknown = packet[packet.length - 1];
      const reply = typeof last === 'function' ? (last as (a: Ack<unknown>) => void) : undefined;
      const refuse = (error: { code: ErrorCode; message: string }) => {
        if (reply !== undefined) reply({ ok: false, error });
        else socket.emit('shard:error', { shardId: null, error });
      };
      // The expiry timer disconnects the socket, but a busy event loop may run it late: an event
      // that arrives after `exp` is refused here, so no write lands on an expired token.
      if (expiresAt !== null && Date.now() >= expiresAt) {
        refuse({ code: ErrorCode.TOKEN_EXPIRED, message: 'your token expired; reconnect with a new one' });
        return;
      }
      if (!socket.data.bucket.take()) {
        refuse({ code: ErrorCode.RATE_LIMITED, message: 'too many events; slow down' });
        return;
      }
      if (!isClientEvent(event)) {
        // Without an ack an unknown event is ignored.
        reply?.({ ok: false, error: { code: ErrorCode.NOT_FOUND, message: `unknown event "${String(event)}"` } });
        return;
      }
      void this.dispatcher.dispatch(socket, event, payload, reply);
    });

    socket.on('disconnect', (reason) => {
      expiry?.cancel();
      if (this.log.isLevelEnabled('debug')) log().debug({ reason }, 'socket disconnected');
      for (const shardId of socket.data.joined) {
        this.dispatcher
          .leaveShard(socket, shardId)
          .catch((error: unknown) =>
            log().warn({ err: error, shardId }, 'leave on disconnect failed; the member will expire'),
          );
      }
    });
  }

  /**
   * Puts a share link's socket in the link's room, which revocation disconnects on every instance
   * (disconnectShareLinks), then checks the link again: a revocation between the handshake's check
   * and the join found the room empty.
   */
  private watchShareLink(socket: TandemSocket, link: LinkClaim, log: Logger): void {
    void socket.join(shareLinkRoom(link.id));
    this.deps.auth
      .shareLinks()
      .isLive(link.shardId, link.id)
      .then((live) => {
        if (!live) socket.disconnect(true);
      })
      .catch((error: unknown) => {
        log.warn({ err: error }, 'could not recheck a share link; disconnecting its socket');
        socket.disconnect(true);
      });
  }

  /**
   * Tells every local socket to reconnect elsewhere, removes their memberships, and closes the
   * socket.io server (not the HTTP server, which its owner closes). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.presence.close();
    this.presenceRequests.close();
    const sockets = [...this.io.of('/').sockets.values()];
    for (const socket of sockets) {
      socket.emit('shard:error', {
        shardId: null,
        error: { code: ErrorCode.UNAVAILABLE, message: 'server shutting down; reconnecting to another instance' },
      });
    }
    const leaves: Array<Promise<void>> = [];
    for (const socket of sockets) {
      for (const shardId of socket.data.joined) leaves.push(this.dispatcher.leaveShard(socket, shardId));
      socket.disconnect(true);
    }
    const results = await Promise.allSettled(leaves);
    for (const r of results) {
      if (r.status === 'rejected')
        this.log.warn({ err: r.reason }, 'leave during shutdown failed; the member will expire');
    }
    // io.close() would also close the HTTP server, which Fastify owns; close the engine and
    // the adapter only.
    this.io.engine.close();
    await new Promise<void>((resolve) => {
      const adapter = this.io.of('/').adapter as unknown as { close?: () => Promise<void> | void };
      Promise.resolve(adapter.close?.()).then(resolve, resolve);
    });
  }
}

/**
 * Ends the socket when its token expires: `shard:error TOKEN_EXPIRED`, then a disconnect.
 * setTimeout caps at ~24.8 days; longer-lived tokens re-arm the timer until they expire.
 */
function disconnectWhenExpired(socket: TandemSocket, expiresAt: number): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = expiresAt - Date.now();
    timer =
      left > MAX_TIMER_MS
        ? setTimeout(arm, MAX_TIMER_MS)
        : setTimeout(
            () => {
              socket.emit('shard:error', {
                shardId: null,
                error: { code: ErrorCode.TOKEN_EXPIRED, message: 'your token expired; reconnect with a new one' },
              });
              socket.disconnect(true);
            },
            Math.max(0, left),
          );
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

const SavedNotice = z.object({
  shardId: z.custom<ShardId>(isShardId),
  version: z.number().int().nonnegative(),
  files: z.array(z.object({ id: z.custom<FileId>(isFileId), version: z.number().int().nonnegative() })),
});

const CheckpointedNotice = z.object({
  shardId: z.custom<ShardId>(isShardId),
  checkpoint: z.object({
    seq: z.number().int().min(1),
    createdAt: z.string(),
    label: z.string().nullable(),
    reason: z.enum(CHECKPOINT_REASONS),
    authors: z.array(z.object({ userId: z.string(), name: z.string() })),
    filesChanged: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
    version: z.number().int().nonnegative(),
  }),
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Malformed JSON is reported by the schema check as a malformed notice.
    return undefined;
  }
}

/** The room of the sockets connected with one share link. */
function shareLinkRoom(linkId: string): string {
  return `share-link:${linkId}`;
}

/** Longest delay setTimeout accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;
