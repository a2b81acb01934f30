/**
 * @tandem/client-sdk — the typed Tandem client for browsers and Node: socket and REST helpers,
 * and the import maps that previews of `browser` templates load their dependencies with.
 * Imports only @tandem/protocol (and its own runtime packages); nothing from the server.
 */
export { buildImportMap, isFrameworkRuntime, type ImportMap, type ImportMapOptions } from './import-map.js';
export { TandemClient, type TandemClientOptions, type ConnectionStatus } from './tandem-client.js';
export {
  ShardSession,
  TEXT_NAME,
  toU8,
  type SessionStatus,
  type SessionEvents,
  type PresenceUser,
} from './shard-session.js';
export { TandemRest } from './rest-client.js';
export { TandemError, unwrap } from './tandem-error.js';
export type { TandemSocket } from './socket-types.js';
