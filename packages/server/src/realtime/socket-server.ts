import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { Cluster, Redis } from 'ioredis';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, ShardId } from '@tandem/protocol';
import type { Config } from '../config/index.js';
import type { Principal } from '../auth/index.js';
import { isOriginAllowed } from '../auth/index.js';
import type { TokenBucket } from './token-bucket.js';
import { batchWrites } from './batched-writes.js';
import { localFirst } from './local-first-adapter.js';

/** What the server keeps on each socket. */
export type SocketData = {
  principal: Principal;
  joined: Set<ShardId>;
  bucket: TokenBucket;
};

export type TandemServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type TandemSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export type SocketServerDeps = {
  pubClient: Redis | Cluster;
  subClient: Redis | Cluster;
  keyPrefix: string;
  shardedPubSub: boolean;
  limits: Config['limits'];
  /** CORS_ORIGINS: browser origins allowed besides the server's own (`*`: any). */
  corsOrigins: ReadonlyArray<string>;
};

/** The room of a shard. */
export function roomOf(shardId: ShardId): string {
  return `shard:${shardId}`;
}

/**
 * The socket.io server with the Redis adapter that carries room broadcasts between instances
 * (local sockets served first, see local-first-adapter.ts). Needs nothing of the rest of the
 * app, so it is built first and everything that broadcasts receives it complete; the caller
 * attaches it to the HTTP server (attachSocketServer) once that server's own handler is in
 * place, so socket.io answers its own requests before the HTTP framework sees them.
 */
export function createSocketServer(deps: SocketServerDeps): TandemServer {
  const io: TandemServer = new Server({
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
  io.adapter(localFirst(adapter));
  // One system call per event and receiver (an event with an attachment is two packets).
  io.on('connection', (socket) => {
    batchWrites(socket.conn);
    releaseHandshake(socket);
  });
  return io;
}

/**
 * Attaches the socket server to the HTTP server, and lets engine.io's stand-in response of each
 * websocket upgrade let go of the upgrade request once the socket is connected (releaseHandshake).
 */
export function attachSocketServer(io: TandemServer, server: HttpServer): void {
  io.attach(server);
  io.engine.use((req: IncomingMessage, res: unknown, next: (error?: unknown) => void) => {
    // A websocket upgrade: engine.io's WebSocketResponse, not a real response (polling).
    if (!(res instanceof ServerResponse)) upgradeResponses.set(req, res as UpgradeResponse);
    next();
  });
}

/** engine.io's stand-in response of a websocket upgrade (its WebSocketResponse). */
type UpgradeResponse = { req: IncomingMessage | null };

/** The stand-in response of each upgrade request, until its socket is connected. */
const upgradeResponses = new WeakMap<IncomingMessage, UpgradeResponse>();

/** What a connected socket's handshake holds instead of headers, query and auth (shared). */
const RELEASED = Object.freeze({});

/**
 * Lets go of what the handshake kept for the connection's whole life once the middleware used it
 * (origin checked, token verified): the handshake's headers, query and auth (the bearer token),
 * and the upgrade request (socket.io's memory guide): engine.io's reference on the connection and
 * the one its stand-in upgrade response keeps for the TCP socket's whole life (it listens for the
 * socket's close; after the upgrade it only answers header calls, which come before it). Nothing
 * reads them after `connection`.
 */
function releaseHandshake(socket: TandemSocket): void {
  const conn = socket.conn as { request: IncomingMessage | null };
  const request = conn.request;
  if (request !== null) {
    const response = upgradeResponses.get(request);
    if (response !== undefined) {
      response.req = null;
      upgradeResponses.delete(request);
    }
  }
  conn.request = null;
  const handshake = socket.handshake as { headers: unknown; query: unknown; auth: unknown };
  handshake.headers = RELEASED;
  handshake.query = RELEASED;
  handshake.auth = RELEASED;
}
