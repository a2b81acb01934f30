import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import { loadConfig, withDevSecret } from './load-config.js';
import { envSchema } from './schema.js';

const envExample = readFileSync(new URL('../../../../.env.example', import.meta.url), 'utf8');
const schemaSource = readFileSync(new URL('./schema.ts', import.meta.url), 'utf8');

/** `KEY=value` lines of .env.example, commented out or not, in file order. */
function exampleEntries(): Array<{ key: string; value: string; commented: boolean; group: string | undefined }> {
  const entries: Array<{ key: string; value: string; commented: boolean; group: string | undefined }> = [];
  let group: string | undefined;
  for (const line of envExample.split('\n')) {
    const heading = /^# ---- (\w+) -+$/.exec(line);
    if (heading !== null) {
      group = heading[1];
      continue;
    }
    const m = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m !== null) entries.push({ key: m[2] ?? '', value: m[3] ?? '', commented: m[1] !== undefined, group });
  }
  return entries;
}

/** The schema's keys with the `// group` comment they sit under, in declaration order. */
function schemaGroups(): Array<{ key: string; group: string | undefined }> {
  const out: Array<{ key: string; group: string | undefined }> = [];
  let group: string | undefined;
  for (const line of schemaSource.split('\n')) {
    const heading = /^\s*\/\/ (\w+)\s*$/.exec(line);
    if (heading !== null) group = heading[1];
    const key = /^\s*([A-Z][A-Z0-9_]*):/.exec(line);
    if (key !== null) out.push({ key: key[1] ?? '', group });
  }
  return out;
}

function configError(env: Record<string, string | undefined>): AppError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('loadConfig accepted an invalid environment');
}

function problemsOf(error: AppError): string[] {
  return (error.details?.['problems'] ?? []) as string[];
}

describe('.env.example', () => {
  it('lists exactly the keys of envSchema, each once', () => {
    const keys = exampleEntries().map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });

  it('groups the keys under the same headings, in the same order, as schema.ts', () => {
    const fromSchema = schemaGroups();
    expect(fromSchema.map((e) => e.key).sort()).toEqual(Object.keys(envSchema.shape).sort());
    expect(fromSchema.every((e) => e.group !== undefined)).toBe(true);
    expect(exampleEntries().map((e) => ({ key: e.key, group: e.group }))).toEqual(fromSchema);
    expect([...new Set(fromSchema.map((e) => e.group))]).toEqual([
      'http',
      'auth',
      'redis',
      'database',
      'limits',
      'cache',
      'jobs',
      'history',
      'log',
      'shutdown',
      'testing',
    ]);
  });

  it('shows each default as the schema declares it, and has a comment line before every key', () => {
    const lines = envExample.split('\n');
    for (const entry of exampleEntries()) {
      const schema = envSchema.shape[entry.key as keyof typeof envSchema.shape];
      const defaulted: unknown = schema.parse(undefined);
      if (defaulted === undefined) {
        // No default (optional or required): the example leaves the value empty.
        expect(entry.value, entry.key).toBe('');
      } else {
        expect(entry.commented, `${entry.key} has a default, so it is commented out`).toBe(true);
        expect(schema.parse(entry.value), entry.key).toEqual(defaulted);
      }
      const index = lines.findIndex((l) => new RegExp(`^(#\\s*)?${entry.key}=`).test(l));
      expect(lines[index - 1], `comment above ${entry.key}`).toMatch(/^# \S/);
    }
  });

  it('loads as a valid configuration when copied as it is', () => {
    const env = Object.fromEntries(
      exampleEntries()
        .filter((e) => !e.commented)
        .map((e) => [e.key, e.value]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe('loadConfig', () => {
  it('refuses a daily history window shorter than the keep-all one', () => {
    expect(() => loadConfig({ HISTORY_KEEP_ALL_DAYS: '10', HISTORY_KEEP_DAILY_DAYS: '5' })).toThrow(
      /HISTORY_KEEP_DAILY_DAYS: must be at least HISTORY_KEEP_ALL_DAYS/,
    );
  });

  it('applies the schema defaults to an empty environment, grouped by concern', () => {
    const config = loadConfig({});
    expect(Object.keys(config).sort()).toEqual([
      'auth',
      'cache',
      'database',
      'history',
      'http',
      'jobs',
      'limits',
      'log',
      'redis',
      'shutdown',
      'testing',
    ]);
    expect(config.history).toEqual({
      intervalMs: 600_000,
      keepAllMs: 7 * 86_400_000,
      keepDailyMs: 90 * 86_400_000,
      pruneIntervalMs: 3_600_000,
    });
    expect(config).toMatchObject({
      http: {
        port: 3000,
        host: '127.0.0.1',
        bodyLimitBytes: 2 * 1024 * 1024,
        webEnabled: true,
        previewCdnUrl: 'https://esm.sh',
        previewPort: 3001,
        previewOrigin: undefined,
        corsOrigins: [],
      },
      auth: {
        jwtSecret: undefined,
        jwksUrl: undefined,
        issuer: undefined,
        audience: undefined,
        tokenTtlSeconds: 7 * 24 * 3600,
        insecureDev: false,
        devSecretFile: undefined,
        maxTokenBytes: 8192,
        shareLinkMaxTtlSeconds: 7 * 24 * 3600,
        shareLinkMaxPerShard: 500,
      },
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'tandem', shardedPubSub: true },
      database: { kind: 'sqlite', file: './data/tandem.sqlite' },
      limits: {
        maxUpdateBytes: 4 * 1024 * 1024,
        maxFileBytes: 2 * 1024 * 1024,
        maxShardUnsyncedBytes: 64 * 1024 * 1024,
        maxAssetBytes: 5 * 1024 * 1024,
        importMaxBytes: 64 * 1024 * 1024,
        maxFilesPerShard: 2000,
        maxPathLength: 512,
        maxPathDepth: 16,
        eventsPerSecond: 100,
        eventsBurst: 300,
        socketMaxMessageBytes: 8 * 1024 * 1024,
      },
      cache: {
        lockTtlMs: 15_000,
        memberTtlMs: 30_000,
        memberLeaseMs: 600_000,
        heartbeatMs: 10_000,
        evictGraceMs: 5_000,
      },
      jobs: {
        concurrency: 3,
        limitMax: 10,
        limitDurationMs: 10_000,
        attempts: 10,
        backoffMs: 1_000,
        intervalMs: 2_000,
        fullScanMs: 300_000,
        batchSize: 100,
      },
      log: { level: 'info', pretty: false },
      shutdown: { timeoutMs: 20_000 },
    });
  });

  it('treats empty strings as unset and ignores variables it does not know', () => {
    const config = loadConfig({ PORT: '', LOG_LEVEL: '', HOME: '/root', PATH: '/usr/bin', AUTH_JWT_SECRET: undefined });
    expect(config.http.port).toBe(3000);
    expect(config.log.level).toBe('info');
    expect(config.auth.jwtSecret).toBeUndefined();
  });

  it('coerces numbers and booleans', () => {
    const config = loadConfig({
      PORT: '0',
      WEB_ENABLED: 'no',
      LOG_PRETTY: 'yes',
      REDIS_SHARDED_PUBSUB: '0',
      TANDEM_INSECURE_DEV: '1',
      MAX_FILE_BYTES: '4096',
      PREVIEW_CDN_URL: 'https://cdn.example.com///',
    });
    expect(config.http.port).toBe(0);
    expect(config.http.webEnabled).toBe(false);
    expect(config.log.pretty).toBe(true);
    expect(config.redis.shardedPubSub).toBe(false);
    expect(config.auth.insecureDev).toBe(true);
    expect(config.limits.maxFileBytes).toBe(4096);
    expect(config.http.previewCdnUrl).toBe('https://cdn.example.com');
    expect(config.http.previewPort).toBe(0);
  });

  it('takes the preview origin and port, and refuses a preview origin with a path', () => {
    const config = loadConfig({ PREVIEW_PORT: '4100', PREVIEW_ORIGIN: 'https://preview.example.com/' });
    expect(config.http.previewPort).toBe(4100);
    expect(config.http.previewOrigin).toBe('https://preview.example.com');
    expect(configError({ PREVIEW_ORIGIN: 'https://example.com/preview' }).message).toContain('PREVIEW_ORIGIN');
  });

  it('logs human lines in development mode and JSON lines otherwise, unless LOG_PRETTY says', () => {
    expect(loadConfig({}).log.pretty).toBe(false);
    expect(loadConfig({ TANDEM_INSECURE_DEV: 'true' }).log.pretty).toBe(true);
    expect(loadConfig({ TANDEM_INSECURE_DEV: 'true', LOG_PRETTY: 'false' }).log.pretty).toBe(false);
    expect(loadConfig({ LOG_PRETTY: 'true' }).log.pretty).toBe(true);
  });

  it('reports every problem at once, naming each variable', () => {
    const error = configError({
      PORT: 'eighty',
      HTTP_BODY_LIMIT_BYTES: '10',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://127.0.0.1:6379',
      REDIS_KEY_PREFIX: 'has space',
      AUTH_JWT_SECRET: 'too-short',
      WEB_ENABLED: 'maybe',
      AUTH_JWKS_URL: 'not a url',
    });
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    const named = [
      'PORT',
      'HTTP_BODY_LIMIT_BYTES',
      'LOG_LEVEL',
      'REDIS_URL',
      'REDIS_KEY_PREFIX',
      'AUTH_JWT_SECRET',
      'WEB_ENABLED',
      'AUTH_JWKS_URL',
    ];
    for (const key of named) {
      expect(error.message).toContain(`${key}:`);
      expect(problemsOf(error).some((p) => p.startsWith(`${key}:`))).toBe(true);
    }
    expect(problemsOf(error)).toHaveLength(named.length);
    expect(error.message).toContain('must be at least 32 characters');
    expect(error.message).toContain('must start with redis:// or rediss://');
  });

  it('reports cross-field problems together with field problems', () => {
    const error = configError({ PORT: '-1', RATE_EVENTS_PER_SECOND: '50', RATE_EVENTS_BURST: '10' });
    expect(
      problemsOf(error)
        .map((p) => p.split(':')[0])
        .sort(),
    ).toEqual(['PORT', 'RATE_EVENTS_BURST']);
  });

  describe('cross-field checks', () => {
    it('needs a burst of at least the sustained rate', () => {
      expect(problemsOf(configError({ RATE_EVENTS_PER_SECOND: '50', RATE_EVENTS_BURST: '49' }))).toEqual([
        'RATE_EVENTS_BURST: must be at least RATE_EVENTS_PER_SECOND',
      ]);
      expect(loadConfig({ RATE_EVENTS_PER_SECOND: '50', RATE_EVENTS_BURST: '50' }).limits.eventsBurst).toBe(50);
    });

    it('needs the heartbeat to be at most half the member TTL', () => {
      expect(problemsOf(configError({ CACHE_MEMBER_TTL_MS: '3000', CACHE_HEARTBEAT_MS: '1501' }))[0]).toMatch(
        /^CACHE_HEARTBEAT_MS: must be at most half of CACHE_MEMBER_TTL_MS/,
      );
      expect(loadConfig({ CACHE_MEMBER_TTL_MS: '3000', CACHE_HEARTBEAT_MS: '1500' }).cache.heartbeatMs).toBe(1500);
    });

    it('never lets the update limit refuse an edit that fits a file (a whole-file paste)', () => {
      expect(loadConfig({}).limits.maxUpdateBytes).toBe(2 * loadConfig({}).limits.maxFileBytes);
      expect(loadConfig({ MAX_FILE_BYTES: String(4 * 1024 * 1024) }).limits.maxUpdateBytes).toBe(8 * 1024 * 1024);
      expect(problemsOf(configError({ MAX_UPDATE_BYTES: String(256 * 1024) }))).toEqual([
        'MAX_UPDATE_BYTES: must be at least MAX_FILE_BYTES + 1024, or an edit that fits a file (a paste of a whole file) would be refused',
      ]);
      expect(loadConfig({ MAX_FILE_BYTES: '3072', MAX_UPDATE_BYTES: '4096' }).limits.maxUpdateBytes).toBe(4096);
    });

    it('never lets the shard backlog refuse for good an edit that fits a file', () => {
      expect(problemsOf(configError({ MAX_FILE_BYTES: '4096', MAX_SHARD_UNSYNCED_BYTES: '8191' }))).toEqual([
        'MAX_SHARD_UNSYNCED_BYTES: must be at least MAX_UPDATE_BYTES (8192), or an edit that fits a file could never be accepted',
      ]);
      expect(
        loadConfig({ MAX_FILE_BYTES: '4096', MAX_SHARD_UNSYNCED_BYTES: '8192' }).limits.maxShardUnsyncedBytes,
      ).toBe(8192);
    });

    it('keeps a binary file within the shard backlog, by default and when set', () => {
      expect(loadConfig({ MAX_FILE_BYTES: '4096', MAX_SHARD_UNSYNCED_BYTES: '8192' }).limits.maxAssetBytes).toBe(8192);
      expect(loadConfig({ MAX_ASSET_BYTES: '4096' }).limits.maxAssetBytes).toBe(4096);
      expect(
        problemsOf(configError({ MAX_FILE_BYTES: '4096', MAX_SHARD_UNSYNCED_BYTES: '8192', MAX_ASSET_BYTES: '8193' })),
      ).toEqual([
        'MAX_ASSET_BYTES: must not exceed MAX_SHARD_UNSYNCED_BYTES (8192), or an upload that fits could never be accepted',
      ]);
    });

    it('needs an update to fit in one socket message', () => {
      expect(
        problemsOf(
          configError({ MAX_UPDATE_BYTES: String(9 * 1024 * 1024), SOCKET_MAX_MESSAGE_BYTES: String(8 * 1024 * 1024) }),
        ),
      ).toEqual(['MAX_UPDATE_BYTES: must not exceed SOCKET_MAX_MESSAGE_BYTES']);
    });

    it('reports all cross-field problems at once', () => {
      const error = configError({
        RATE_EVENTS_PER_SECOND: '50',
        RATE_EVENTS_BURST: '10',
        CACHE_MEMBER_TTL_MS: '1000',
        CACHE_HEARTBEAT_MS: '900',
        MAX_UPDATE_BYTES: String(1024 * 1024),
        SOCKET_MAX_MESSAGE_BYTES: String(512 * 1024),
      });
      expect(problemsOf(error).map((p) => p.split(':')[0])).toEqual([
        'RATE_EVENTS_BURST',
        'CACHE_HEARTBEAT_MS',
        'MAX_UPDATE_BYTES',
        'MAX_UPDATE_BYTES',
      ]);
    });
  });

  it('returns a deep-frozen object', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@h/db' });
    const frozen = (value: unknown): boolean =>
      value === null ||
      typeof value !== 'object' ||
      (Object.isFrozen(value) && Object.values(value as object).every(frozen));
    expect(frozen(config)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config as unknown as { extra: unknown }).extra = {};
    }).toThrow(TypeError);
    expect(config.http.port).toBe(3000);
  });

  describe('auth', () => {
    it('uses the configured secret', () => {
      const secret = 'x'.repeat(32);
      expect(loadConfig({ AUTH_JWT_SECRET: secret }).auth.jwtSecret).toBe(secret);
    });

    it('has no public development secret: TANDEM_INSECURE_DEV names a per-data-directory secret file', () => {
      const dev = loadConfig({ TANDEM_INSECURE_DEV: 'true', DATABASE_URL: 'sqlite:/var/lib/tandem/db.sqlite' });
      expect(dev.auth.jwtSecret).toBeUndefined();
      expect(dev.auth.devSecretFile).toBe('/var/lib/tandem/dev-secret');
      expect(loadConfig({ TANDEM_INSECURE_DEV: 'true' }).auth.devSecretFile).toBe('data/dev-secret');
      expect(loadConfig({}).auth.jwtSecret).toBeUndefined();
      expect(loadConfig({}).auth.devSecretFile).toBeUndefined();
      const withSecret = withDevSecret(dev, 'y'.repeat(43));
      expect(withSecret.auth.jwtSecret).toBe('y'.repeat(43));
      expect(Object.isFrozen(withSecret.auth)).toBe(true);
      expect(() => withDevSecret(loadConfig({}), 'y'.repeat(43))).toThrow();
    });

    it('refuses TANDEM_INSECURE_DEV together with a real secret or a JWKS', () => {
      expect(() => loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32), TANDEM_INSECURE_DEV: 'true' })).toThrow(
        /TANDEM_INSECURE_DEV: refuses to run with AUTH_JWT_SECRET/,
      );
      expect(() =>
        loadConfig({ TANDEM_INSECURE_DEV: 'true', AUTH_JWKS_URL: 'https://idp.example.com/jwks.json' }),
      ).toThrow(/TANDEM_INSECURE_DEV: refuses to run with AUTH_JWKS_URL/);
    });

    it('parses CORS_ORIGINS and refuses malformed ones', () => {
      expect(loadConfig({}).http.corsOrigins).toEqual([]);
      expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:5173/' }).http.corsOrigins).toEqual([
        'https://a.example.com',
        'http://localhost:5173',
      ]);
      expect(loadConfig({ CORS_ORIGINS: '*' }).http.corsOrigins).toEqual(['*']);
      expect(() => loadConfig({ CORS_ORIGINS: 'example.com' })).toThrow(/CORS_ORIGINS/);
    });
  });

  describe('DATABASE_URL', () => {
    it.each([
      [
        'postgres://user:pw@db.example.com:5432/tandem',
        { kind: 'postgres', url: 'postgres://user:pw@db.example.com:5432/tandem', poolSize: 10 },
      ],
      [
        'postgresql://db/tandem?sslmode=require',
        { kind: 'postgres', url: 'postgresql://db/tandem?sslmode=require', poolSize: 10 },
      ],
      ['sqlite:./data/app.sqlite', { kind: 'sqlite', file: './data/app.sqlite' }],
      ['sqlite:/var/lib/tandem/db.sqlite', { kind: 'sqlite', file: '/var/lib/tandem/db.sqlite' }],
      ['sqlite:///var/lib/tandem/db.sqlite', { kind: 'sqlite', file: '/var/lib/tandem/db.sqlite' }],
      ['sqlite://./data/app.sqlite', { kind: 'sqlite', file: './data/app.sqlite' }],
      ['sqlite:', { kind: 'sqlite', file: ':memory:' }],
      ['sqlite::memory:', { kind: 'sqlite', file: ':memory:' }],
      ['./tandem.db', { kind: 'sqlite', file: './tandem.db' }],
      ['/tmp/tandem.db', { kind: 'sqlite', file: '/tmp/tandem.db' }],
    ])('%s', (url, expected) => {
      expect(loadConfig({ DATABASE_URL: url }).database).toEqual(expected);
    });

    it('defaults to the embedded SQLite file', () => {
      expect(loadConfig({}).database).toEqual({ kind: 'sqlite', file: './data/tandem.sqlite' });
    });

    it('passes the pool size to PostgreSQL only', () => {
      expect(loadConfig({ DATABASE_URL: 'postgres://h/db', DATABASE_POOL_SIZE: '3' }).database).toEqual({
        kind: 'postgres',
        url: 'postgres://h/db',
        poolSize: 3,
      });
      expect(configError({ DATABASE_POOL_SIZE: '0' }).message).toContain('DATABASE_POOL_SIZE:');
    });
  });

  describe('REDIS_CLUSTER_NODES', () => {
    it('is unset by default (one Redis at REDIS_URL)', () => {
      expect(loadConfig({}).redis.clusterNodes).toBeUndefined();
    });

    it('parses comma-separated host:port pairs, ignoring spaces', () => {
      expect(
        loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001, redis-b.internal:7002 ,10.0.0.3:6379' }).redis.clusterNodes,
      ).toEqual([
        { host: '127.0.0.1', port: 7001 },
        { host: 'redis-b.internal', port: 7002 },
        { host: '10.0.0.3', port: 6379 },
      ]);
    });

    it.each(['127.0.0.1', '127.0.0.1:', ':7001', '127.0.0.1:7001,', 'a:1;b:2', 'a:b'])('refuses %j', (value) => {
      expect(problemsOf(configError({ REDIS_CLUSTER_NODES: value }))).toEqual([
        'REDIS_CLUSTER_NODES: must be comma-separated host:port pairs',
      ]);
    });

    it('refuses a port outside 1-65535', () => {
      expect(problemsOf(configError({ REDIS_CLUSTER_NODES: 'a:7001,b:70000' }))).toEqual([
        'REDIS_CLUSTER_NODES: every port must be between 1 and 65535',
      ]);
    });
  });

  describe('MAX_CONNECTIONS_PER_USER', () => {
    it('defaults to 20 and accepts 1 or more', () => {
      expect(loadConfig({}).limits.maxConnectionsPerUser).toBe(20);
      expect(loadConfig({ MAX_CONNECTIONS_PER_USER: '1' }).limits.maxConnectionsPerUser).toBe(1);
      expect(configError({ MAX_CONNECTIONS_PER_USER: '0' }).message).toContain('MAX_CONNECTIONS_PER_USER:');
    });
  });
});
