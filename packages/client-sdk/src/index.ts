/**
 * @tandem/client-sdk — the typed Tandem client for browsers and Node: socket and REST helpers,
 * and the import maps that previews of `browser` templates load their dependencies with.
 * Imports only @tandem/protocol (and its own runtime packages); nothing from the server.
 */
export {
  buildImportMap,
  isFrameworkRuntime,
  planImportMap,
  type ImportMap,
  type ImportMapOptions,
  type ImportMapPlan,
  type UnusableDependency,
} from './import-map.js';
export { TandemClient, type TandemClientOptions, type ConnectionStatus } from './tandem-client.js';
export {
  ShardSession,
  toU8,
  type SessionStatus,
  type SessionEvents,
  type SessionOptions,
  type PresenceUser,
  type Refusal,
  type TreeOpFailure,
} from './shard-session.js';
/** Re-exported from the protocol (one definition), for code that imports only the SDK. */
export { TEXT_NAME } from '@tandem/protocol';
export { describeTreeOp, describeTreeOpFailure, type TreeOp } from './tree-ops.js';
export { TandemRest } from './rest-client.js';
export {
  readDependencies,
  withDependency,
  withoutDependency,
  applyTextChange,
  packageNameProblem,
  versionProblem,
  isExactVersion,
  cdnVersionResolver,
  type VersionResolver,
  type DependencyInput,
  type PackageDependencies,
} from './package-json.js';
export { matchPaths, type PathMatch } from './quick-open.js';
export { TandemError, unwrap } from './tandem-error.js';
export type { TandemSocket } from './socket-types.js';
