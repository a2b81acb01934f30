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
 * attaches it to the HTTP server (`io.attach(server)`) once that server's own handler is in
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

/** What a connected socket's handshake holds instead of headers, query and auth (shared). */
const RELEASED = Object.freeze({});

/**
 * Lets go of what the handshake kept for the connection's whole life once the middleware used it
 * (origin checked, token verified): the handshake's headers, query and auth (the bearer token),
 * and engine.io's reference to the upgrade request (socket.io's memory guide). Nothing reads them
 * after `connection`. engine.io 6.6 still holds the request of a websocket connection elsewhere
 * (its upgrade response listens for the TCP socket's close), so that part frees nothing today.
 */
function releaseHandshake(socket: TandemSocket): void {
  (socket.conn as { request: unknown }).request = null;
  const handshake = socket.handshake as { headers: unknown; query: unknown; auth: unknown };
  handshake.headers = RELEASED;
  handshake.query = RELEASED;
  handshake.auth = RELEASED;
}
