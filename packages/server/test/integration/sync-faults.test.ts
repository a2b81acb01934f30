import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { TandemClient } from '@tandem/client-sdk';
import {
  connectClient,
  createShard,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../support/test-app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTestRedis, TEST_POSTGRES_URL, TEST_REDIS_CLUSTER_NODES } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { bullPrefix, SYNC_QUEUE_NAME } from '../../src/sync-jobs/index.js';
import { createShardRepository } from '../../src/persistence/index.js';
import type { ShardId } from '@tandem/protocol';

const FAST_JOBS = { SYNC_BACKOFF_MS: '100', SYNC_ATTEMPTS: '50' };

async function storedContent(databaseUrl: string, shardId: ShardId, path: string): Promise<string | undefined> {
  const repo = createShardRepository({ kind: 'postgres', url: databaseUrl, poolSize: 1 });
  try {
    return (await repo.findById(shardId))?.files.find((f) => f.path === path)?.content;
  } finally {
    await repo.close();
  }
}

describe('a database outage', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let pgProxy: TcpProxy;
  let server: RunningApp;
  let redis: Redis | Cluster;
  const clients: TandemClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    pgProxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
    const proxied = db.url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${pgProxy.port}`);
    server = await startTestApp({ prefix, databaseUrl: proxied, env: FAST_JOBS });
    redis = createTestRedis();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    pgProxy.resume();
    await server.app.close();
    await pgProxy.close();
    redis.disconnect();
    await db.drop();
  });

  it('keeps editing, retries with backoff, never evicts unflushed shards, and flushes when it returns', async () => {
    const shardId = await createShard(server.url);
    const c = await connectClient(server.url);
    clients.push(c);
    const session = await c.join(shardId);
    const text = await session.openFile('src/main.js');
    text.insert(0, 'before-outage;');
    await session.saved(20_000);

    pgProxy.pause();
    for (let i = 0; i < 20; i++) text.insert(text.length, `during-outage-${i};`);
    await session.flushed(10_000);
    expect(session.status).toBe('live');
    // Syncs fail and are retried with backoff.
    await waitFor(
      async () => {
        const failed = await server.app.queue.queue.getJobs(['delayed', 'active', 'waiting', 'failed']);
        return failed.some((j) => j.attemptsMade >= 2);
      },
      20_000,
      'retries',
    );
    // The backlog shows in the metrics an operator alerts on.
    await waitFor(
      async () => {
        const body = await (await fetch(`${server.url}/metrics`)).text();
        const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? 'NaN');
        return (
          value('tandem_unsynced_updates') >= 20 &&
          value('tandem_unsynced_files') >= 1 &&
          value('tandem_sync_lag_seconds') > 0 &&
          value('tandem_unsynced_bytes') > 0
        );
      },
      10_000,
      'backlog metrics',
    );
    // Everyone leaves: past the grace period the shard is still cached, because it is not flushed.
    await c.leave(shardId);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await redis.exists(`${prefix}:shard:{${shardId}}:meta`)).toBe(1);
    expect(await redis.zcard(`${prefix}:shard:{${shardId}}:dirty`)).toBeGreaterThan(0);

    pgProxy.resume();
    await waitFor(
      async () => (await storedContent(db.url, shardId, 'src/main.js'))?.includes('during-outage-19;'),
      30_000,
      'flush after outage',
    );
    expect(await storedContent(db.url, shardId, 'src/main.js')).toBe(text.toString());
    await waitFor(
      async () => (await redis.exists(`${prefix}:shard:{${shardId}}:meta`)) === 0,
      30_000,
      'eviction after flush',
    );
  });
});

describe('a sync worker killed in the middle of a job', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let api: RunningApp;
  let worker: ServerProcess | undefined;
  let replacement: ServerProcess | undefined;
  const clients: TandemClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    api = await startTestApp({ prefix, databaseUrl: db.url, role: 'api', env: FAST_JOBS });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await worker?.kill('SIGKILL');
    await replacement?.kill('SIGTERM');
    await api.app.close();
    await db.drop();
  });

  it('is run again after its lock expires, and the result is consistent', async () => {
    const workerEnv = { ...FAST_JOBS, SYNC_LOCK_DURATION_MS: '2000', SYNC_STALLED_INTERVAL_MS: '1000' };
    worker = await startServerProcess({ prefix, databaseUrl: db.url, args: ['--role', 'worker'], env: workerEnv });
    const shardId = await createShard(api.url);
    const c = await connectClient(api.url);
    clients.push(c);
    const session = await c.join(shardId);
    const text = await session.openFile('index.html');

    // Hold the shards table so the job blocks inside its transaction.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table shard_files in access exclusive mode');
    try {
      text.insert(0, '<!-- written while the worker dies -->');
      await session.flushed();
      const queue = new Queue(SYNC_QUEUE_NAME, {
        connection: createTestRedis(),
        prefix: bullPrefix(prefix, TEST_REDIS_CLUSTER_NODES !== undefined),
      });
      try {
        await waitFor(async () => (await queue.getActiveCount()) > 0, 20_000, 'job active');
        await worker.kill('SIGKILL');
        worker = undefined;
      } finally {
        await queue.close();
      }
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    replacement = await startServerProcess({ prefix, databaseUrl: db.url, args: ['--role', 'worker'], env: workerEnv });
    await waitFor(
      async () =>
        (await storedContent(db.url, shardId, 'index.html'))?.includes('<!-- written while the worker dies -->'),
      30_000,
      'job re-run after stall',
    );
    expect(await storedContent(db.url, shardId, 'index.html')).toBe(text.toString());
    const stalledLog = /stalled|moved to wait/i.test(replacement.output());
    const queue = new Queue(SYNC_QUEUE_NAME, {
      connection: createTestRedis(),
      prefix: bullPrefix(prefix, TEST_REDIS_CLUSTER_NODES !== undefined),
    });
    try {
      const done = await queue.getCompleted();
      expect(done.some((j) => j.stalledCounter >= 1) || stalledLog).toBe(true);
    } finally {
      await queue.close();
    }
  });
});

describe('SIGTERM with unsynced edits', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('flushes every acknowledged edit before the process exits', async () => {
    // No periodic sync: only the shutdown flush can write these edits.
    const proc = await startServerProcess({ prefix, databaseUrl: db.url, env: { SYNC_INTERVAL_MS: '3600000' } });
    const shardId = await createShard(proc.url);
    const c = await connectClient(proc.url);
    const session = await c.join(shardId);
    const text = await session.openFile('src/main.js');
    for (let i = 0; i < 100; i++) text.insert(text.length, `e${i};`);
    await session.flushed();
    expect(await storedContent(db.url, shardId, 'src/main.js')).not.toContain('e99;');
    const code = await proc.kill('SIGTERM');
    c.socket.disconnect();
    expect(code).toBe(0);
    expect(await storedContent(db.url, shardId, 'src/main.js')).toBe(text.toString());
    expect(proc.output()).toContain('shutdown complete');
  });
});
