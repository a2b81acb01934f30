import { dirname, join } from 'node:path';
import { AppError } from '../errors/index.js';
import { ErrorCode } from '@tandem/protocol';
import { envSchema, type Env } from './schema.js';

/** Which part of the system this process runs. */
export type Role = 'all' | 'api' | 'worker';

export type DatabaseConfig = { kind: 'postgres'; url: string; poolSize: number } | { kind: 'sqlite'; file: string };

/** The grouped, deep-frozen configuration. Each module receives only its slice. */
export type Config = Readonly<{
  http: Readonly<{
    port: number;
    host: string;
    bodyLimitBytes: number;
    webEnabled: boolean;
    previewCdnUrl: string;
    /** Port of the preview origin's listener (PREVIEW_PORT; default PORT + 1). */
    previewPort: number;
    /** Public origin of the preview, or undefined: the editor's host name with previewPort. */
    previewOrigin: string | undefined;
    /** Browser origins allowed besides the server's own; `*` in the list allows any. */
    corsOrigins: ReadonlyArray<string>;
  }>;
  auth: Readonly<{
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    tokenTtlSeconds: number;
    insecureDev: boolean;
    /** Where development mode keeps its generated secret (set only with TANDEM_INSECURE_DEV). */
    devSecretFile: string | undefined;
    maxTokenBytes: number;
    shareLinkMaxTtlSeconds: number;
    shareLinkMaxPerShard: number;
  }>;
  redis: Readonly<{
    url: string;
    keyPrefix: string;
    shardedPubSub: boolean;
    /** Redis Cluster seed nodes; undefined for a single Redis at `url`. */
    clusterNodes: ReadonlyArray<Readonly<{ host: string; port: number }>> | undefined;
  }>;
  database: Readonly<DatabaseConfig>;
  limits: Readonly<{
    maxUpdateBytes: number;
    maxFileBytes: number;
    /** Bytes of unsynced Yjs data one shard may hold in Redis (see MAX_SHARD_UNSYNCED_BYTES). */
    maxShardUnsyncedBytes: number;
    /** Largest binary file, in bytes (MAX_ASSET_BYTES). */
    maxAssetBytes: number;
    /** Largest zip import, compressed and uncompressed, in bytes (IMPORT_MAX_BYTES). */
    importMaxBytes: number;
    maxFilesPerShard: number;
    maxPathLength: number;
    maxPathDepth: number;
    eventsPerSecond: number;
    eventsBurst: number;
    socketMaxMessageBytes: number;
    maxConnectionsPerUser: number;
    restRequestsPerMinute: number;
    shardCreatesPerHour: number;
    shareLinksPerHour: number;
    zipMaxBytes: number;
    zipMaxConcurrentPerUser: number;
  }>;
  cache: Readonly<{
    lockTtlMs: number;
    memberTtlMs: number;
    memberLeaseMs: number;
    heartbeatMs: number;
    evictGraceMs: number;
  }>;
  jobs: Readonly<{
    concurrency: number;
    limitMax: number;
    limitDurationMs: number;
    attempts: number;
    backoffMs: number;
    intervalMs: number;
    fullScanMs: number;
    batchSize: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    /** SYNC_THREAD_NICE. */
    threadNice: number;
  }>;
  history: Readonly<{
    /** See HISTORY_INTERVAL_MS. */
    intervalMs: number;
    /** HISTORY_KEEP_ALL_DAYS in ms. */
    keepAllMs: number;
    /** HISTORY_KEEP_DAILY_DAYS in ms. */
    keepDailyMs: number;
    pruneIntervalMs: number;
  }>;
  log: Readonly<{ level: Env['LOG_LEVEL']; pretty: boolean }>;
  shutdown: Readonly<{ timeoutMs: number }>;
  testing: Readonly<{ faults: boolean; syncCrash?: 'after-commit' | undefined }>;
}>;

/**
 * Reads the environment once, reports every problem at once, and returns a frozen Config.
 * The only reader of process.env (callers pass it in).
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Cross-field checks run on the fields that parsed, so one bad variable does not hide them.
  problems.push(...crossFieldProblems(cleaned));
  if (!parsed.success || problems.length > 0) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  const e = parsed.data;
  const database = parseDatabaseUrl(e.DATABASE_URL, e.DATABASE_POOL_SIZE);
  return deepFreeze({
    http: {
      port: e.PORT,
      host: e.HOST,
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      webEnabled: e.WEB_ENABLED,
      previewCdnUrl: e.PREVIEW_CDN_URL.replace(/\/+$/, ''),
      previewPort: e.PREVIEW_PORT ?? (e.PORT === 0 ? 0 : Math.min(65535, e.PORT + 1)),
      previewOrigin: e.PREVIEW_ORIGIN?.replace(/\/+$/, ''),
      corsOrigins:
        e.CORS_ORIGINS === undefined ? [] : e.CORS_ORIGINS.split(',').map((o) => o.trim().replace(/\/+$/, '')),
    },
    auth: {
      // In development mode the secret is generated per data directory: see withDevSecret.
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      tokenTtlSeconds: e.AUTH_TOKEN_TTL_SECONDS,
      insecureDev: e.TANDEM_INSECURE_DEV,
      devSecretFile: e.TANDEM_INSECURE_DEV ? devSecretFileFor(database) : undefined,
      maxTokenBytes: e.AUTH_MAX_TOKEN_BYTES,
      shareLinkMaxTtlSeconds: e.SHARE_LINK_MAX_TTL_SECONDS,
      shareLinkMaxPerShard: e.SHARE_LINK_MAX_PER_SHARD,
    },
    redis: {
      url: e.REDIS_URL,
      keyPrefix: e.REDIS_KEY_PREFIX,
      shardedPubSub: e.REDIS_SHARDED_PUBSUB,
      clusterNodes: e.REDIS_CLUSTER_NODES === undefined ? undefined : parseClusterNodes(e.REDIS_CLUSTER_NODES),
    },
    database,
    limits: {
      maxUpdateBytes: e.MAX_UPDATE_BYTES ?? 2 * e.MAX_FILE_BYTES,
      maxFileBytes: e.MAX_FILE_BYTES,
      maxShardUnsyncedBytes: e.MAX_SHARD_UNSYNCED_BYTES,
      maxAssetBytes: e.MAX_ASSET_BYTES ?? Math.min(DEFAULT_MAX_ASSET_BYTES, e.MAX_SHARD_UNSYNCED_BYTES),
      importMaxBytes: e.IMPORT_MAX_BYTES,
      maxFilesPerShard: e.MAX_FILES_PER_SHARD,
      maxPathLength: e.MAX_PATH_LENGTH,
      maxPathDepth: e.MAX_PATH_DEPTH,
      eventsPerSecond: e.RATE_EVENTS_PER_SECOND,
      eventsBurst: e.RATE_EVENTS_BURST,
      socketMaxMessageBytes: e.SOCKET_MAX_MESSAGE_BYTES,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      restRequestsPerMinute: e.RATE_REST_PER_MINUTE,
      shardCreatesPerHour: e.RATE_SHARD_CREATES_PER_HOUR,
      shareLinksPerHour: e.RATE_SHARE_LINKS_PER_HOUR,
      zipMaxBytes: e.ZIP_MAX_BYTES,
      zipMaxConcurrentPerUser: e.ZIP_MAX_CONCURRENT_PER_USER,
    },
    cache: {
      lockTtlMs: e.CACHE_LOCK_TTL_MS,
      memberTtlMs: e.CACHE_MEMBER_TTL_MS,
      memberLeaseMs: Math.max(e.CACHE_MEMBER_LEASE_MS, e.CACHE_MEMBER_TTL_MS),
      heartbeatMs: e.CACHE_HEARTBEAT_MS,
      evictGraceMs: e.CACHE_EVICT_GRACE_MS,
    },
    jobs: {
      concurrency: e.SYNC_CONCURRENCY,
      limitMax: e.SYNC_LIMIT_MAX,
      limitDurationMs: e.SYNC_LIMIT_DURATION_MS,
      attempts: e.SYNC_ATTEMPTS,
      backoffMs: e.SYNC_BACKOFF_MS,
      intervalMs: e.SYNC_INTERVAL_MS,
      fullScanMs: e.SYNC_FULL_SCAN_MS,
      batchSize: e.SYNC_BATCH_SIZE,
      lockDurationMs: e.SYNC_LOCK_DURATION_MS,
      stalledIntervalMs: e.SYNC_STALLED_INTERVAL_MS,
      threadNice: e.SYNC_THREAD_NICE,
    },
    history: {
      intervalMs: e.HISTORY_INTERVAL_MS,
      keepAllMs: e.HISTORY_KEEP_ALL_DAYS * DAY_MS,
      keepDailyMs: e.HISTORY_KEEP_DAILY_DAYS * DAY_MS,
      pruneIntervalMs: e.HISTORY_PRUNE_INTERVAL_MS,
    },
    // Development mode logs for people (npm start); JSON lines stay the production default.
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY ?? e.TANDEM_INSECURE_DEV },
    shutdown: { timeoutMs: e.SHUTDOWN_TIMEOUT_MS },
    testing: {
      faults: e.TANDEM_TEST_FAULTS,
      ...(e.TANDEM_TEST_FAULTS && e.TANDEM_TEST_SYNC_CRASH !== undefined
        ? { syncCrash: e.TANDEM_TEST_SYNC_CRASH }
        : {}),
    },
  });
}

const DAY_MS = 24 * 60 * 60 * 1000;

function crossFieldProblems(env: Record<string, unknown>): string[] {
  const field = <K extends keyof Env>(key: K): Env[K] | undefined => {
    const result = envSchema.shape[key].safeParse(env[key]);
    return result.success ? (result.data as Env[K]) : undefined;
  };
  const problems: string[] = [];
  const rate = field('RATE_EVENTS_PER_SECOND');
  const burst = field('RATE_EVENTS_BURST');
  if (rate !== undefined && burst !== undefined && burst < rate) {
    problems.push('RATE_EVENTS_BURST: must be at least RATE_EVENTS_PER_SECOND');
  }
  const heartbeatMs = field('CACHE_HEARTBEAT_MS');
  const memberTtlMs = field('CACHE_MEMBER_TTL_MS');
  if (heartbeatMs !== undefined && memberTtlMs !== undefined && heartbeatMs * 2 > memberTtlMs) {
    problems.push('CACHE_HEARTBEAT_MS: must be at most half of CACHE_MEMBER_TTL_MS so live members never expire');
  }
  const keepAllDays = field('HISTORY_KEEP_ALL_DAYS');
  const keepDailyDays = field('HISTORY_KEEP_DAILY_DAYS');
  if (keepAllDays !== undefined && keepDailyDays !== undefined && keepDailyDays < keepAllDays) {
    problems.push('HISTORY_KEEP_DAILY_DAYS: must be at least HISTORY_KEEP_ALL_DAYS');
  }
  const maxFileBytes = field('MAX_FILE_BYTES');
  const maxUpdateBytes = field('MAX_UPDATE_BYTES') ?? (maxFileBytes === undefined ? undefined : 2 * maxFileBytes);
  const socketMaxMessageBytes = field('SOCKET_MAX_MESSAGE_BYTES');
  if (
    maxUpdateBytes !== undefined &&
    maxFileBytes !== undefined &&
    maxUpdateBytes < maxFileBytes + UPDATE_OVERHEAD_BYTES
  ) {
    problems.push(
      `MAX_UPDATE_BYTES: must be at least MAX_FILE_BYTES + ${UPDATE_OVERHEAD_BYTES}, or an edit that fits a file (a paste of a whole file) would be refused`,
    );
  }
  if (maxUpdateBytes !== undefined && socketMaxMessageBytes !== undefined && maxUpdateBytes > socketMaxMessageBytes) {
    problems.push('MAX_UPDATE_BYTES: must not exceed SOCKET_MAX_MESSAGE_BYTES');
  }
  const maxShardUnsyncedBytes = field('MAX_SHARD_UNSYNCED_BYTES');
  if (maxUpdateBytes !== undefined && maxShardUnsyncedBytes !== undefined && maxShardUnsyncedBytes < maxUpdateBytes) {
    problems.push(
      `MAX_SHARD_UNSYNCED_BYTES: must be at least MAX_UPDATE_BYTES (${maxUpdateBytes}), or an edit that fits a file could never be accepted`,
    );
  }
  const maxAssetBytes = field('MAX_ASSET_BYTES');
  if (maxAssetBytes !== undefined && maxShardUnsyncedBytes !== undefined && maxAssetBytes > maxShardUnsyncedBytes) {
    problems.push(
      `MAX_ASSET_BYTES: must not exceed MAX_SHARD_UNSYNCED_BYTES (${maxShardUnsyncedBytes}), or an upload that fits could never be accepted`,
    );
  }
  if (field('TANDEM_INSECURE_DEV') === true) {
    // Development mode mints admin tokens for anyone on this machine; it must never sign with
    // (or hand out tokens of) a real deployment's keys.
    if (env['AUTH_JWT_SECRET'] !== undefined) {
      problems.push(
        'TANDEM_INSECURE_DEV: refuses to run with AUTH_JWT_SECRET set (development mode signs with its own generated secret); unset one of them',
      );
    }
    if (env['AUTH_JWKS_URL'] !== undefined) {
      problems.push('TANDEM_INSECURE_DEV: refuses to run with AUTH_JWKS_URL set; unset one of them');
    }
  }
  const clusterNodes = field('REDIS_CLUSTER_NODES');
  if (clusterNodes !== undefined && parseClusterNodes(clusterNodes).some((n) => n.port < 1 || n.port > 65535)) {
    problems.push('REDIS_CLUSTER_NODES: every port must be between 1 and 65535');
  }
  return problems;
}

/** MAX_ASSET_BYTES when unset (and MAX_SHARD_UNSYNCED_BYTES is not smaller): 5 MiB. */
const DEFAULT_MAX_ASSET_BYTES = 5 * 1024 * 1024;

/** What a Yjs update adds to the text it carries (item headers, delete set), with room to spare. */
const UPDATE_OVERHEAD_BYTES = 1024;

/** `host:port,host:port` (the schema checked the shape) → seed nodes. */
function parseClusterNodes(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((entry) => {
    const trimmed = entry.trim();
    const colon = trimmed.lastIndexOf(':');
    return { host: trimmed.slice(0, colon), port: Number(trimmed.slice(colon + 1)) };
  });
}

/**
 * Returns `config` with `secret` as the HS256 secret: development mode's generated secret (see
 * auth's loadOrCreateDevSecret), which loadConfig cannot read because it does no I/O.
 */
export function withDevSecret(config: Config, secret: string): Config {
  if (!config.auth.insecureDev) throw new Error('withDevSecret is for TANDEM_INSECURE_DEV only');
  return deepFreeze({ ...config, auth: { ...config.auth, jwtSecret: secret } });
}

/** `dev-secret` next to the SQLite file; for PostgreSQL or an in-memory database, in ./data. */
function devSecretFileFor(database: DatabaseConfig): string {
  if (database.kind === 'sqlite' && database.file !== ':memory:') return join(dirname(database.file), 'dev-secret');
  return join('data', 'dev-secret');
}

function parseDatabaseUrl(url: string, poolSize: number): DatabaseConfig {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url, poolSize };
  let file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  // URL form with an empty authority: sqlite:///abs/path and sqlite://./relative. Left as it
  // was, `//./data/x` would resolve to /data/x at the filesystem root.
  if (url.startsWith('sqlite://')) file = file.slice(2);
  return { kind: 'sqlite', file: file === '' ? ':memory:' : file };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
