import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import type { ShardId } from '@tandem/protocol';
import { TandemClient, TandemRest } from '@tandem/client-sdk';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createTemplateRegistry, type TemplateRegistry } from '../../src/templates/index.js';
import { createAuthService, type TokenClaims } from '../../src/auth/index.js';
import { TEST_POSTGRES_URL, TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL, uniquePrefix } from './services.js';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

let registry: TemplateRegistry | undefined;
/** One template registry per test file (loading it reads every template from disk). */
export function testTemplates(): TemplateRegistry {
  registry ??= createTemplateRegistry();
  return registry;
}

/** A database for one test file: a temp SQLite file, or a fresh PostgreSQL schema. */
export type TestDatabase = { url: string; kind: 'sqlite' | 'postgres'; drop(): Promise<void> };

export async function createTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-test-'));
    return {
      kind,
      url: `sqlite:${join(dir, 'db.sqlite')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  await client.query(`create schema "${schema}"`);
  await client.end();
  const url = `${TEST_POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    kind,
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`drop schema if exists "${schema}" cascade`);
      await c.end();
    },
  };
}

/** Captures log lines so tests can count lifecycle events (e.g. how often a shard was loaded). */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  count(msg: string, where: (line: Record<string, unknown>) => boolean = () => true): number {
    return this.lines.filter((l) => l['msg'] === msg && where(l)).length;
  }
}

export type TestAppOptions = AppOptions & {
  prefix: string;
  databaseUrl: string;
  env?: Record<string, string>;
  logs?: LogCapture;
};

export type RunningApp = { app: App; url: string; port: number; config: Config };

/** Starts a real app on port 0 against the test Redis and the given database. */
export async function startTestApp(options: TestAppOptions): Promise<RunningApp> {
  const config = testConfig(options.prefix, options.databaseUrl, options.env);
  const logger = pino(
    { level: options.logs === undefined ? 'error' : 'debug' },
    options.logs?.stream ?? process.stderr,
  );
  const app = await createApp(config, logger, { templates: testTemplates(), ...options });
  const { port, url } = await app.start();
  return { app, url, port, config };
}

export function testConfig(prefix: string, databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'error',
    CACHE_MEMBER_TTL_MS: '3000',
    CACHE_HEARTBEAT_MS: '500',
    CACHE_EVICT_GRACE_MS: '200',
    SYNC_INTERVAL_MS: '200',
    // The suite's time budgets for a sync assume the sync threads get their share of a machine
    // that runs several test files at once; production's nice 10 is tested on its own
    // (sync-worker.test.ts).
    SYNC_THREAD_NICE: '0',
    WEB_ENABLED: 'false',
    ...(TEST_REDIS_CLUSTER_NODES === undefined ? {} : { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES }),
    ...env,
  });
}

const auth = createAuthService(loadConfig({ AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_TOKEN_TTL_SECONDS: '3600' }).auth);

/** A token signed with the test secret. */
export function tokenFor(claims: Partial<TokenClaims> = {}, ttlSeconds = 3600): Promise<string> {
  return auth.mint({ sub: claims.sub ?? `user-${randomUUID().slice(0, 6)}`, role: 'user', ...claims }, ttlSeconds);
}

/** An admin token (may create shards, writes everywhere). */
export function adminToken(): Promise<string> {
  return tokenFor({ sub: 'admin', role: 'admin' });
}

/** Creates a shard from a template through the REST API. */
export async function createShard(url: string, templateId = 'vanilla', name = 'test shard'): Promise<ShardId> {
  const rest = new TandemRest({ url, token: await adminToken() });
  const { shard } = await rest.createShard({ templateId, name });
  return shard.id;
}

/** A connected SDK client; closed by the returned `close`. */
export async function connectClient(url: string, token?: string): Promise<TandemClient> {
  const client = new TandemClient({
    url,
    token: token ?? (await adminToken()),
    socketOptions: { reconnectionDelay: 50, reconnectionDelayMax: 200 },
  });
  await client.connected();
  return client;
}

export { uniquePrefix };
