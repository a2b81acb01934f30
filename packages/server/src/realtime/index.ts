/**
 * realtime — the socket.io server (SocketService): Redis adapter between instances, handshake
 * auth, per-socket rate limits, presence relay, one handler per client event. Imports shards
 * (types), shard-cache (types), auth, config, logging, errors, protocol; never http.
 */
export { SocketService, roomOf, type SocketServiceDeps, type TandemServer } from './socket-service.js';
export { TokenBucket } from './token-bucket.js';
export { PresenceRelay } from './presence-relay.js';
export { decodeAwarenessUpdate } from './awareness-update.js';
