/**
 * realtime — the socket.io server: the Redis adapter between instances and the room broadcasts
 * (built first, from the HTTP server alone), and SocketService: handshake auth, connection caps,
 * per-socket rate limits, the event dispatcher, presence. Imports shards (types), shard-cache
 * (types), auth, config, logging, errors, protocol; never http.
 */
export {
  attachSocketServer,
  createSocketServer,
  roomOf,
  type SocketServerDeps,
  type TandemServer,
  type TandemSocket,
} from './socket-server.js';
export { createRoomEvents, NO_ROOM_EVENTS, type RoomEvents } from './room-events.js';
export { SocketService, type SocketServiceDeps } from './socket-service.js';
export { TokenBucket } from './token-bucket.js';
export { PresenceRelay } from './presence-relay.js';
export { decodeAwarenessUpdate } from './awareness-update.js';
