import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Cluster, Redis } from 'ioredis';
import {
  CLIENT_EVENT_NAMES,
  CLIENT_EVENT_SCHEMAS,
  ErrorCode,
  type Ack,
  type AckData,
  type ClientPayload,
  type ClientToServerEvents,
  type JoinResult,
  type InterServerEvents,
  type ServerToClientEvents,
  type ShardId,
  type TreeChange,
  type FileId,
  isFileId,
  isShardId,
} from '@tandem/protocol';
import { z } from 'zod';
import { AppError, assertNever, toAppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { AuthService, LinkClaim, Principal } from '../auth/index.js';
import { isOriginAllowed } from '../auth/index.js';
import type { ShardEvents, ShardService } from '../shards/index.js';
import type { Membership } from '../shard-cache/index.js';
import { TokenBucket } from './token-bucket.js';
import { MAX_CLIENT_IDS_PER_SOCKET, MAX_PRESENCE_NAME_LENGTH, PresenceRelay } from './presence-relay.js';
import { localFirst } from './local-first-adapter.js';
import type { Faults } from '../faults/index.js';

export type SocketData = {
  principal: Principal;
  joined: Set<ShardId>;
  bucket: TokenBucket;
};

export type TandemServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type TandemSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export type SocketServiceDeps = {
  httpServer: HttpServer;
  /** Command connection (presence client-id ownership). */
  redis: Redis | Cluster;
  pubClient: Redis | Cluster;
  subClient: Redis | Cluster;
  keyPrefix: string;
  /** This instance's id: presence client ids are claimed in its name. */
  instanceId: string;
  /** How long a presence client-id claim lives without the heartbeat (the member TTL). */
  presenceClaimTtlMs: number;
  shardedPubSub: boolean;
  limits: Config['limits'];
  logger: Logger;
  auth: AuthService;
  /** CORS_ORIGINS: browser origins allowed besides the server's own (`*`: any). */
  corsOrigins: ReadonlyArray<string>;
  /** Test-only fault injection (dropped acks). */
  faults?: Faults;
};

/** The room of a shard. */
export function roomOf(shardId: ShardId): string {
  return `shard:${shardId}`;
}

/**
 * The socket.io server: one room per shard, the Redis adapter carrying broadcasts between
 * instances, handshake auth, per-socket rate limits, and one handler per client event.
 * Created in two steps (create, then attach the ShardService) because the service needs the
 * room broadcaster this class provides.
 */
export class SocketService {
  readonly io: TandemServer;
  private shards: ShardService | undefined;
  private members: Membership | undefined;
  private readonly presence: PresenceRelay;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  /** Per user id: the sockets this instance holds for that user (the connection cap). */
  private readonly userSockets = new Map<string, Set<string>>();
  /** Per shard: the open presence-request window and the sockets that joined during it. */
  private readonly presenceRequests = new Map<
    ShardId,
    { joiners: Set<string>; version: number; timer: NodeJS.Timeout }
  >();

  constructor(private readonly deps: SocketServiceDeps) {
    this.log = deps.logger.child({ module: 'realtime' });
    this.io = new Server(deps.httpServer, {
      maxHttpBufferSize: deps.limits.socketMaxMessageBytes,
      serveClient: false,
      // Browsers do not apply CORS to WebSockets: the Origin check is allowRequest's, for both transports.
      cors: { origin: deps.corsOrigins.includes('*') ? true : [...deps.corsOrigins], credentials: false },
      allowRequest: (request, callback) =>
        callback(null, isOriginAllowed(request.headers.origin, request.headers.host, deps.corsOrigins)),
      connectionStateRecovery: undefined,
    });
    const adapterKey = `${deps.keyPrefix}:socket.io`;
    const adapter = deps.shardedPubSub
      ? createShardedAdapter(deps.pubClient, deps.subClient, { channelPrefix: adapterKey, subscriptionMode: 'dynamic' })
      : createAdapter(deps.pubClient, deps.subClient, { key: adapterKey });
    this.io.adapter(localFirst(adapter));
    this.presence = new PresenceRelay({
      emit: (shardId, update) => this.io.to(roomOf(shardId)).emit('presence:updated', { shardId, update }),
      redis: deps.redis,
      keyPrefix: deps.keyPrefix,
      instanceId: deps.instanceId,
      claimTtlMs: deps.presenceClaimTtlMs,
    });
    this.io.use((socket, next) => {
      const token: unknown = socket.handshake.auth['token'];
      deps.auth
        .verify(typeof token === 'string' ? token : undefined)
        .then((principal) => {
          this.reserveConnection(socket, connectionOwner(principal));
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
  }

  /** The broadcaster the ShardService uses. */
  readonly events: ShardEvents = {
    fileEdited: (shardId: ShardId, fileId: FileId, update: Uint8Array, version: number, exceptSocketId?: string) => {
      const target =
        exceptSocketId === undefined ? this.io.to(roomOf(shardId)) : this.io.to(roomOf(shardId)).except(exceptSocketId);
      target.emit('file:edited', { shardId, fileId, update, version });
    },
    treeChanged: (shardId: ShardId, change: TreeChange, version: number) => {
      this.io.to(roomOf(shardId)).emit('tree:changed', { shardId, change, version });
    },
    reloaded: (shardId: ShardId) => {
      this.io.to(roomOf(shardId)).emit('shard:resync', { shardId });
    },
  };

  /** Wires the event handlers; `members` registers this instance's sockets in the shards they join. */
  attach(shards: ShardService, members: Membership): void {
    this.shards = shards;
    this.members = members;
    this.io.on('connection', (socket) => this.onConnection(socket));
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
   * Tells everyone in a shard its current version (a `presence:requested`): after the members of
   * a dead instance expired, its collaborators' clients compare it with what they have and
   * re-check for notices they missed.
   */
  announce(shardId: ShardId, version: number): void {
    this.io.to(roomOf(shardId)).emit('presence:requested', { shardId, version });
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

  private member(socketId: string): string {
    return this.membership().socketMember(socketId);
  }

  private onConnection(socket: TandemSocket): void {
    const log = this.log.child({ socketId: socket.id, userId: socket.data.principal.userId });
    log.debug('socket connected');
    const expiresAt = socket.data.principal.expiresAtMs;
    let expiry: NodeJS.Timeout | undefined;
    // setTimeout caps at ~24.8 days; longer-lived tokens re-arm the timer until they expire.
    const armExpiry = () => {
      if (expiresAt === null) return;
      const left = expiresAt - Date.now();
      if (left > MAX_TIMER_MS) {
        expiry = setTimeout(armExpiry, MAX_TIMER_MS);
      } else {
        expiry = setTimeout(
          () => {
            socket.emit('shard:error', {
              shardId: null,
              error: { code: ErrorCode.TOKEN_EXPIRED, message: 'your token expired; reconnect with a new one' },
            });
            socket.disconnect(true);
          },
          Math.max(0, left),
        );
      }
      expiry.unref();
    };
    armExpiry();
    const link = socket.data.principal.link;
    if (link !== undefined) this.watchShareLink(socket, link, log);

    // Every client event goes through this one dispatcher (no per-event listeners): expiry and
    // the rate limit first, then the event's schema, then its handler, then the ack.
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
      void this.respond(socket, event, payload, reply);
    });

    socket.on('disconnect', (reason) => {
      if (expiry !== undefined) clearTimeout(expiry);
      log.debug({ reason }, 'socket disconnected');
      for (const shardId of socket.data.joined) {
        this.leaveShard(socket, shardId).catch((error: unknown) =>
          log.warn({ err: error, shardId }, 'leave on disconnect failed; the member will expire'),
        );
      }
    });
  }

  /** Validates one event's payload, runs its handler and acks (or reports) the outcome. */
  private async respond<E extends keyof ClientToServerEvents>(
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
        this.log.error({ err: appError.cause ?? error, event, socketId: socket.id }, 'event failed');
      }
      if (reply !== undefined) reply({ ok: false, error: appError.toBody() });
      else socket.emit('shard:error', { shardId: null, error: appError.toBody() });
    }
  }

  /** One handler per client event; each must return exactly that event's ack data. */
  private readonly handlers: EventHandlers = {
    'shard:join': (socket, { shardId }) => this.join(socket, shardId),
    'shard:leave': async (socket, { shardId }) => {
      if (socket.data.joined.has(shardId)) await this.leaveShard(socket, shardId);
      return null;
    },
    'file:sync': (socket, { shardId, fileId, stateVector }) => {
      this.requireJoined(socket, shardId);
      return this.service().syncFile(socket.data.principal, shardId, fileId, stateVector);
    },
    'file:edit': async (socket, { shardId, fileId, update }) => {
      this.requireJoined(socket, shardId);
      const version = await this.service().edit(socket.data.principal, shardId, fileId, update, socket.id);
      return { version };
    },
    'file:create': (socket, { shardId, path, content, fileId, opId }) => {
      this.requireJoined(socket, shardId);
      return this.service().createFile(socket.data.principal, shardId, path, content ?? '', { fileId, opId });
    },
    'file:rename': (socket, { shardId, from, to, opId }) => {
      this.requireJoined(socket, shardId);
      return this.service().renameFile(socket.data.principal, shardId, from, to, { opId });
    },
    'file:delete': (socket, { shardId, path, opId }) => {
      this.requireJoined(socket, shardId);
      return this.service().deleteFile(socket.data.principal, shardId, path, { opId });
    },
    'presence:update': async (socket, { shardId, update }) => {
      this.requireJoined(socket, shardId);
      if (update.byteLength > 64 * 1024)
        throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'a presence update may hold at most 64 KiB');
      const outcome = await this.presence.push(
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
    // In the room before the tree is read: a change made meanwhile is either in the tree we
    // return or in a tree:changed event with a higher version (the SDK keeps those).
    await socket.join(roomOf(shardId));
    let result;
    try {
      result = await this.service().join(socket.data.principal, shardId, this.member(socket.id));
    } catch (error) {
      if (!wasJoined) await socket.leave(roomOf(shardId));
      throw error;
    }
    if (!socket.connected) {
      // Disconnected while loading: undo the membership the join just added.
      await this.service().leave(shardId, this.member(socket.id));
      throw new AppError(ErrorCode.UNAVAILABLE, 'disconnected during join');
    }
    socket.data.joined.add(shardId);
    this.membership().addLocal(shardId, this.member(socket.id));
    this.requestPresence(shardId, socket.id, result.version);
    return result;
  }

  /**
   * Asks the room (but the joiners) for their presence, at most once per
   * PRESENCE_REQUEST_WINDOW_MS per shard on this instance: the first join of a quiet shard asks at
   * once, joins within the window are answered by one request at its end. Every SDK in the room
   * answers a request with a presence update, which costs it one event of its own rate budget, so
   * one request per join would let anyone who may read a shard flood joins (each within their own
   * limit) until every collaborator's edits are refused with RATE_LIMITED.
   */
  private requestPresence(shardId: ShardId, joinerId: string, version: number): void {
    const open = this.presenceRequests.get(shardId);
    if (open !== undefined) {
      open.joiners.add(joinerId);
      open.version = Math.max(open.version, version);
      return;
    }
    this.io.to(roomOf(shardId)).except(joinerId).emit('presence:requested', { shardId, version });
    this.openPresenceWindow(shardId, version);
  }

  private openPresenceWindow(shardId: ShardId, version: number): void {
    const timer = setTimeout(() => {
      const window = this.presenceRequests.get(shardId);
      this.presenceRequests.delete(shardId);
      if (window === undefined || window.joiners.size === 0) return;
      this.io
        .to(roomOf(shardId))
        .except([...window.joiners])
        .emit('presence:requested', { shardId, version: window.version });
      // Still busy: keep throttling.
      this.openPresenceWindow(shardId, window.version);
    }, PRESENCE_REQUEST_WINDOW_MS);
    timer.unref();
    this.presenceRequests.set(shardId, { joiners: new Set(), version, timer });
  }

  /**
   * Counts the socket against its user's connection cap (MAX_CONNECTIONS_PER_USER, per instance);
   * throws RATE_LIMITED when the user already holds that many. Released when the socket
   * disconnects or its transport closes, whichever comes first (a handshake whose client went
   * away before it completed never emits `disconnect`).
   */
  private reserveConnection(socket: TandemSocket, userId: string): void {
    // A client that left while its token was being verified is dropped by socket.io; holding a
    // slot for it would leak, because its transport's close event has already fired.
    if (socket.conn.readyState !== 'open') return;
    let held = this.userSockets.get(userId);
    if (held === undefined) {
      held = new Set();
      this.userSockets.set(userId, held);
    }
    const max = this.deps.limits.maxConnectionsPerUser;
    if (held.size >= max) {
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `too many connections for this user on this server (at most ${max}); close some before opening more`,
      );
    }
    held.add(socket.id);
    const set = held;
    const release = () => {
      set.delete(socket.id);
      if (set.size === 0 && this.userSockets.get(userId) === set) this.userSockets.delete(userId);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
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

  /** Disconnects the sockets of revoked share links on every instance (through the adapter). */
  async disconnectShareLinks(linkIds: readonly string[]): Promise<void> {
    const rooms = linkIds.map(shareLinkRoom);
    this.io.to(rooms).emit('shard:error', {
      shardId: null,
      error: { code: ErrorCode.UNAUTHENTICATED, message: 'this share link was revoked; ask for a new one' },
    });
    this.io.in(rooms).disconnectSockets(true);
  }

  private requireJoined(socket: TandemSocket, shardId: ShardId): void {
    if (!socket.data.joined.has(shardId)) {
      throw new AppError(ErrorCode.NOT_JOINED, 'join the shard (shard:join) before using it', { details: { shardId } });
    }
  }

  private async leaveShard(socket: TandemSocket, shardId: ShardId): Promise<void> {
    socket.data.joined.delete(shardId);
    // Others see this user go at once instead of after the awareness timeout.
    this.presence
      .removeSocket(shardId, socket.id)
      .catch((error: unknown) =>
        this.log.warn({ err: error, shardId }, 'releasing presence client ids failed; they lapse with the member'),
      );
    this.membership().removeLocal(shardId, this.member(socket.id));
    await socket.leave(roomOf(shardId));
    await this.service().leave(shardId, this.member(socket.id));
  }

  private service(): ShardService {
    if (this.shards === undefined) throw new Error('SocketService.attach() was not called');
    return this.shards;
  }

  private membership(): Membership {
    if (this.members === undefined) throw new Error('SocketService.attach() was not called');
    return this.members;
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
    for (const { timer } of this.presenceRequests.values()) clearTimeout(timer);
    this.presenceRequests.clear();
    const sockets = [...this.io.of('/').sockets.values()];
    for (const socket of sockets) {
      socket.emit('shard:error', {
        shardId: null,
        error: { code: ErrorCode.UNAVAILABLE, message: 'server shutting down; reconnecting to another instance' },
      });
    }
    const leaves: Array<Promise<void>> = [];
    for (const socket of sockets) {
      for (const shardId of socket.data.joined) leaves.push(this.leaveShard(socket, shardId));
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

const SavedNotice = z.object({
  shardId: z.custom<ShardId>(isShardId),
  version: z.number().int().nonnegative(),
  files: z.array(z.object({ id: z.custom<FileId>(isFileId), version: z.number().int().nonnegative() })),
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Malformed JSON is reported by the schema check as a malformed notice.
    return undefined;
  }
}

/** Shortest time between two presence:requested of one shard from one instance (see requestPresence). */
const PRESENCE_REQUEST_WINDOW_MS = 250;

/** The room of the sockets connected with one share link. */
function shareLinkRoom(linkId: string): string {
  return `share-link:${linkId}`;
}

/**
 * Whose MAX_CONNECTIONS_PER_USER budget a connection uses: its user's, or for a share link (a new
 * `sub` per link) the budget of all links minted by the same user, so minting links does not
 * multiply connections.
 */
function connectionOwner(principal: Principal): string {
  return principal.link === undefined ? `user:${principal.userId}` : `links-of:${principal.link.mintedBy}`;
}

/** Longest delay setTimeout accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const KNOWN_EVENTS: ReadonlySet<string> = new Set(CLIENT_EVENT_NAMES);

function isClientEvent(event: unknown): event is keyof ClientToServerEvents {
  return typeof event === 'string' && KNOWN_EVENTS.has(event);
}

/** The protocol's schema table, seen per event (it was checked against the event map there). */
const EVENT_SCHEMAS: { [E in keyof ClientToServerEvents]: z.ZodType<ClientPayload<E>> } = CLIENT_EVENT_SCHEMAS;

type EventHandlers = {
  [E in keyof ClientToServerEvents]: (socket: TandemSocket, payload: ClientPayload<E>) => Promise<AckData<E>>;
};
