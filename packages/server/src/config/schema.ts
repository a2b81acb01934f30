import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Every environment variable Tandem reads, with its default. The single source of truth:
 * `.env.example` lists exactly these keys (a unit test keeps them in step).
 */
export const envSchema = z.object({
  // http
  /** TCP port of the HTTP + socket.io server. Default 3000; 0 picks a free port. */
  PORT: int(0, 65535).default(3000),
  /** Interface to listen on. Default 127.0.0.1; use 0.0.0.0 behind a load balancer. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Largest accepted HTTP request body, in bytes. Default 2 MiB. */
  HTTP_BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  /** Serve the browser editor at `/`. Default true. */
  WEB_ENABLED: bool.default(true),
  /** Base URL of the ESM CDN the browser preview loads dependencies from. Default https://esm.sh. */
  PREVIEW_CDN_URL: z.url().default('https://esm.sh'),
  /**
   * Port of the preview origin: a second listener that serves only the preview's host page, so
   * project code runs on an origin apart from the editor's. Default PORT + 1 (0 when PORT is 0).
   */
  PREVIEW_PORT: int(0, 65535).optional(),
  /**
   * Public origin of the preview (e.g. `https://preview.example.com`, proxied to PREVIEW_PORT).
   * Default: unset, the editor uses its own host name with PREVIEW_PORT.
   */
  PREVIEW_ORIGIN: z
    .url()
    .refine((value) => /^https?:\/\/[^/?#]+\/?$/.test(value), 'must be an origin such as https://preview.example.com')
    .optional(),
  /**
   * Browser origins, besides the server's own, allowed to use the REST API and socket.io
   * (comma-separated, e.g. `https://app.example.com,http://localhost:5173`; `*` allows any).
   * Requests without an Origin header (non-browser clients) are always allowed. Default: none.
   */
  CORS_ORIGINS: z
    .string()
    .regex(
      /^\s*(\*|https?:\/\/[^\s,/]+\/?)\s*(,\s*(\*|https?:\/\/[^\s,/]+\/?)\s*)*$/,
      'must be * or comma-separated origins like https://app.example.com',
    )
    .optional(),

  // auth
  /** HS256 secret that signs access tokens (at least 32 characters). Required unless TANDEM_INSECURE_DEV is set or AUTH_JWKS_URL is given. */
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** JWKS URL for verifying RS256/ES256 tokens signed by the host application. Optional. */
  AUTH_JWKS_URL: z.url().optional(),
  /** Expected `iss` claim. Default: not checked. */
  AUTH_ISSUER: z.string().min(1).optional(),
  /** Expected `aud` claim. Default: not checked. */
  AUTH_AUDIENCE: z.string().min(1).optional(),
  /** Lifetime of tokens minted by `tandem token` and the editor's share links, in seconds. Default 7 days. */
  AUTH_TOKEN_TTL_SECONDS: int(60, 365 * 24 * 3600).default(7 * 24 * 3600),
  /**
   * Longest lifetime of a share link, in seconds: a longer `ttlSeconds` is refused, and a link
   * minted without one lives min(AUTH_TOKEN_TTL_SECONDS, this). Default 7 days.
   */
  SHARE_LINK_MAX_TTL_SECONDS: int(60, 365 * 24 * 3600).default(7 * 24 * 3600),
  /** Most live (unexpired, unrevoked) share links one shard may have; more are refused with RATE_LIMITED. Default 500. */
  SHARE_LINK_MAX_PER_SHARD: int(1, 100_000).default(500),
  /** Largest bearer token accepted (REST and socket handshake), in bytes; larger ones get PAYLOAD_TOO_LARGE. Default 8192. */
  AUTH_MAX_TOKEN_BYTES: int(512, 1024 * 1024).default(8192),
  /**
   * Development only: start without AUTH_JWT_SECRET (and without AUTH_JWKS_URL, which it refuses),
   * signing with a random secret generated once per data directory (`dev-secret` next to the SQLite
   * file, mode 0600), and serve admin tokens at `GET /dev/token` to pages of this server on a
   * loopback address. Default false.
   */
  TANDEM_INSECURE_DEV: bool.default(false),

  // redis
  /** Redis URL (redis://, rediss://). Default redis://127.0.0.1:6379. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key, pub/sub channel and BullMQ queue. Default "tandem". */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('tandem'),
  /** Use sharded pub/sub (SPUBLISH, Redis 7+) for the socket.io adapter. Default true. */
  REDIS_SHARDED_PUBSUB: bool.default(true),
  /**
   * Redis Cluster seed nodes, comma-separated `host:port` (e.g. `127.0.0.1:7001,127.0.0.1:7002`).
   * When set, every connection is an ioredis Cluster client and REDIS_URL only supplies the
   * username, password and TLS (rediss://) used for every node. Default: unset (one Redis at REDIS_URL).
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s:,]+:\d{1,5}\s*(,\s*[^\s:,]+:\d{1,5}\s*)*$/, 'must be comma-separated host:port pairs')
    .optional(),

  // database
  /** postgres://… for PostgreSQL, or a SQLite file path (sqlite:path or a plain path). Default: embedded SQLite at ./data/tandem.sqlite. */
  DATABASE_URL: z.string().min(1).default('sqlite:./data/tandem.sqlite'),
  /** Maximum PostgreSQL connections per process. Default 10. */
  DATABASE_POOL_SIZE: int(1, 200).default(10),

  // limits
  /**
   * Largest Yjs update accepted in one edit, in bytes. At least MAX_FILE_BYTES + 1 KiB, so that any
   * edit leaving a file within MAX_FILE_BYTES is accepted (pasting a whole file, or the offline
   * changes a reconnecting client sends back). Default: twice MAX_FILE_BYTES.
   */
  MAX_UPDATE_BYTES: int(64, 512 * 1024 * 1024).optional(),
  /**
   * Largest file, in bytes of UTF-8 text (REST writes and creates). The Yjs data one file may hold
   * in Redis between two syncs is bounded by four times this (each sync compacts it). Default 2 MiB.
   */
  MAX_FILE_BYTES: int(1024, 256 * 1024 * 1024).default(2 * 1024 * 1024),
  /**
   * Most bytes of unsynced Yjs data one shard may hold in Redis: every update and every created
   * file's state since the shard's files were last loaded or compacted by a sync. An edit or create
   * that would pass it is refused with SHARD_UNAVAILABLE (`details.reason: "backlog"`, retryable: the
   * SDK keeps the text, backs off and resends) and a sync of the shard is started at once. At least
   * MAX_UPDATE_BYTES, so an edit that fits a file is accepted once the shard is synced. Default 64 MiB.
   */
  MAX_SHARD_UNSYNCED_BYTES: int(1024, 64 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /**
   * Largest binary file (image, font, any bytes uploaded with a non-text content type, or found in
   * an imported zip), in bytes. It counts towards MAX_SHARD_UNSYNCED_BYTES until synced like any
   * edit, so it must not exceed it. Default 5 MiB, or MAX_SHARD_UNSYNCED_BYTES when that is smaller.
   */
  MAX_ASSET_BYTES: int(1024, 1024 * 1024 * 1024).optional(),
  /**
   * Largest zip archive `POST /shards/import` accepts, in bytes, and the most bytes its files may
   * hold once uncompressed (larger archives get 413 PAYLOAD_TOO_LARGE). Default 64 MiB.
   */
  IMPORT_MAX_BYTES: int(1024, 4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Most files one shard may hold. Default 2000. */
  MAX_FILES_PER_SHARD: int(1, 100_000).default(2000),
  /** Longest file path, in characters. Default 512. */
  MAX_PATH_LENGTH: int(16, 4096).default(512),
  /** Deepest file path, in segments. Default 16. */
  MAX_PATH_DEPTH: int(1, 256).default(16),
  /** Sustained events per second one socket may send (token bucket refill). Default 100. */
  RATE_EVENTS_PER_SECOND: int(1, 100_000).default(100),
  /** Burst size of the per-socket token bucket. Default 300. */
  RATE_EVENTS_BURST: int(1, 1_000_000).default(300),
  /** socket.io maxHttpBufferSize: the largest single message, in bytes. Default 8 MiB (a first sync of a large file). */
  SOCKET_MAX_MESSAGE_BYTES: int(64 * 1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  /**
   * Most socket connections one user (token `sub`) may hold open on one server instance at once;
   * further handshakes are refused with RATE_LIMITED. Counted per instance, not cluster-wide. Default 20.
   */
  MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(20),
  /**
   * REST requests one user (token `sub`; the client address without a token) may send per minute,
   * counted in Redis across every instance; more get 429 RATE_LIMITED. Admin tokens are exempt. Default 600.
   */
  RATE_REST_PER_MINUTE: int(1, 1_000_000).default(600),
  /** Shards one user may create per hour (`POST /shards`), across the cluster. Admin tokens are exempt. Default 30. */
  RATE_SHARD_CREATES_PER_HOUR: int(1, 1_000_000).default(30),
  /** Share links one user may mint per hour (`POST /shards/:id/tokens`), across the cluster. Admin tokens are exempt. Default 60. */
  RATE_SHARE_LINKS_PER_HOUR: int(1, 1_000_000).default(60),
  /** Largest zip download (`GET /shards/:id/zip`), in bytes of uncompressed text; larger shards get 413 PAYLOAD_TOO_LARGE. Default 512 MiB. */
  ZIP_MAX_BYTES: int(1024, 16 * 1024 * 1024 * 1024).default(512 * 1024 * 1024),
  /** Zip downloads one user may run at once on one instance; more get 429 RATE_LIMITED. Default 2. */
  ZIP_MAX_CONCURRENT_PER_USER: int(1, 1000).default(2),

  // cache
  /** TTL of the populate/evict lock of a shard, in ms. Default 15000. */
  CACHE_LOCK_TTL_MS: int(1000, 600_000).default(15_000),
  /** A member (socket) that has not been refreshed for this long is considered gone, in ms. Default 30000. */
  CACHE_MEMBER_TTL_MS: int(1000, 3_600_000).default(30_000),
  /** How often each instance refreshes its members, in ms. Default 10000. */
  CACHE_HEARTBEAT_MS: int(100, 600_000).default(10_000),
  /**
   * How long a socket's membership of a shard lasts without a refresh, in ms (at least
   * CACHE_MEMBER_TTL_MS). Each heartbeat refreshes the members of a slice of the shards, so each
   * shard's are refreshed about every third of this: idle shards cost little. A dead instance is
   * still noticed after CACHE_MEMBER_TTL_MS (its heartbeat entry lapses) and its members pruned
   * then. Default 600000.
   */
  CACHE_MEMBER_LEASE_MS: int(1000, 86_400_000).default(600_000),
  /** Wait after the last leave before flush-and-evict, in ms. Default 5000. */
  CACHE_EVICT_GRACE_MS: int(0, 3_600_000).default(5_000),

  // jobs
  /** Sync jobs processed at once per worker. Default 3. */
  SYNC_CONCURRENCY: int(1, 256).default(3),
  /** Rate limiter: at most this many sync jobs… Default 10. */
  SYNC_LIMIT_MAX: int(1, 100_000).default(10),
  /** …per this many ms, across the whole cluster. Default 10000. */
  SYNC_LIMIT_DURATION_MS: int(1, 3_600_000).default(10_000),
  /** Attempts per sync job before it is failed. Default 10. */
  SYNC_ATTEMPTS: int(1, 1000).default(10),
  /** Base delay of the exponential retry backoff, in ms. Default 1000. */
  SYNC_BACKOFF_MS: int(1, 3_600_000).default(1_000),
  /** How often the scheduler looks for shards with unsynced changes, in ms. Default 2000. */
  SYNC_INTERVAL_MS: int(50, 3_600_000).default(2_000),
  /**
   * Longest time between two inspections of every open shard, in ms. Ticks inspect only the
   * shards with changes and those nobody is in; a full scan also runs when an instance died.
   * A backstop, not a sync interval. Default 300000.
   */
  SYNC_FULL_SCAN_MS: int(1000, 86_400_000).default(300_000),
  /** Most shards one sync job flushes. Default 100. */
  SYNC_BATCH_SIZE: int(1, 10_000).default(100),
  /**
   * How long a running job's lock lasts without renewal before the job counts as stalled, in ms
   * (renewed every half of it). Default 10000.
   */
  SYNC_LOCK_DURATION_MS: int(1000, 3_600_000).default(10_000),
  /**
   * How often workers look for stalled jobs (their worker died) to run them again, in ms. Until
   * then the job's partition syncs nothing. Default 5000.
   */
  SYNC_STALLED_INTERVAL_MS: int(500, 3_600_000).default(5_000),
  /**
   * Nice value of the sync worker threads (Linux; 0 to 19): background work that yields a shared
   * core to the event loop handling edits. 0 runs them at the event loop's priority. Default 10.
   */
  SYNC_THREAD_NICE: int(0, 19).default(10),

  // history
  /** A changed shard gets an automatic checkpoint when its last one is at least this old, in ms. Default 600000 (10 minutes). */
  HISTORY_INTERVAL_MS: int(0, 30 * 24 * 3_600_000).default(600_000),
  /** Every checkpoint younger than this is kept, in days. Default 7. */
  HISTORY_KEEP_ALL_DAYS: int(0, 36_500).default(7),
  /** Until this age the newest checkpoint of each UTC day is kept; older unnamed ones are pruned, in days. Default 90. */
  HISTORY_KEEP_DAILY_DAYS: int(0, 36_500).default(90),
  /** How often the background job prunes checkpoints, in ms. Default 3600000 (1 hour). */
  HISTORY_PRUNE_INTERVAL_MS: int(1000, 7 * 24 * 3_600_000).default(3_600_000),

  // log
  /** pino level: fatal, error, warn, info, debug, trace, silent. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable log lines instead of JSON. Default: on in development mode (TANDEM_INSECURE_DEV, `npm start`), off otherwise. */
  LOG_PRETTY: bool.optional(),

  // shutdown
  /** Deadline for graceful shutdown, in ms. Default 20000. */
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(20_000),

  // testing
  /**
   * Test only: enable fault injection (`POST /__test/faults`: crash right after a store, drop acks).
   * Never set this in production. Default false.
   */
  TANDEM_TEST_FAULTS: bool.default(false),
  /**
   * Test-only, and only with TANDEM_TEST_FAULTS: `after-commit` makes a sync thread SIGKILL its
   * process right after its first database commit of a sync and before the compaction (the window
   * a kill test aims at). Never set this in production.
   */
  TANDEM_TEST_SYNC_CRASH: z.enum(['after-commit']).optional(),
});

export type Env = z.infer<typeof envSchema>;
