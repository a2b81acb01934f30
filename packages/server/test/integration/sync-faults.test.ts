import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { Queue } from 'bullmq';
import { LogCapture, adminToken, createShard, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import type { ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTestRedis, TEST_POSTGRES_URL, TEST_REDIS_CLUSTER_NODES } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs, evictBudgetMs, syncBudgetMs } from '../support/time-budget.js';
import { bullPrefix, SYNC_QUEUE_NAME, syncPartitionOf } from '../../src/sync-jobs/index.js';
import { createShardRepository } from '../../src/persistence/index.js';
import { shardKeys } from '../../src/redis/index.js';
import type { ShardId } from '@tandem/protocol';

const FAST_JOBS = { SYNC_BACKOFF_MS: '100', SYNC_ATTEMPTS: '50' };
/** Sync workers whose stalled jobs run again within about 3 s (lock 2 s, stalled check 1 s). */
const KILL_JOBS = { ...FAST_JOBS, SYNC_LOCK_DURATION_MS: '2000', SYNC_STALLED_INTERVAL_MS: '1000' };

async function storedContent(databaseUrl: string, shardId: ShardId, path: string): Promise<string | undefined> {
  const repo = createShardRepository({ kind: 'postgres', url: databaseUrl, poolSize: 1 });
  try {
    return (await repo.findById(shardId))?.files.find((f) => f.path === path)?.content;
  } finally {
    await repo.close();
  }
}

describe('a database outage', () => {
  let pgProxy: TcpProxy;
  // Registered before the harness, so it runs after the harness closed the app (hooks unwind as a stack).
  afterAll(async () => {
    await pgProxy?.close();
  });
  const t = useTandem({
    database: 'postgres',
    env: FAST_JOBS,
    appDatabaseUrl: async (url) => {
      pgProxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
      return url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${pgProxy.port}`);
    },
  });
  const prefix = t.prefix;
  let server: RunningApp;
  let redis: Redis | Cluster;

  beforeAll(() => {
    server = t.apps[0]!;
    redis = createTestRedis();
  });

  afterAll(() => {
    pgProxy.resume();
    redis.disconnect();
  });

  it('keeps editing, retries with backoff, never evicts unflushed shards, and flushes when it returns', async () => {
    const shardId = await createShard(server.url);
    const c = await t.client();
    const session = await c.join(shardId);
    const text = await session.openFile('src/main.js');
    text.insert(0, 'before-outage;');
    await session.saved(syncBudgetMs(server.config));

    pgProxy.pause();
    for (let i = 0; i < 20; i++) text.insert(text.length, `during-outage-${i};`);
    await session.flushed(budgetMs(5_000));
    expect(session.status).toBe('live');
    // Syncs fail and are retried with backoff.
    await waitFor(
      async () => {
        const failed = await server.app.queue.queue.getJobs(['delayed', 'active', 'waiting', 'failed']);
        return failed.some((j) => j.attemptsMade >= 2);
      },
      budgetMs(10_000),
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
      budgetMs(5_000),
      'backlog metrics',
    );
    // Everyone leaves: past the grace period the shard is still cached, because it is not flushed.
    await c.leave(shardId);
    await waitFor(
      () => (server.app.scheduler.lastScan?.evictCandidates ?? 0) > 0,
      evictBudgetMs(server.config),
      'a scan past the grace period',
    );
    expect(await redis.exists(`${prefix}:shard:{${shardId}}:meta`)).toBe(1);
    expect(await redis.zcard(`${prefix}:shard:{${shardId}}:dirty`)).toBeGreaterThan(0);

    pgProxy.resume();
    await waitFor(
      async () => (await storedContent(t.db.url, shardId, 'src/main.js'))?.includes('during-outage-19;'),
      budgetMs(15_000),
      'flush after outage',
    );
    expect(await storedContent(t.db.url, shardId, 'src/main.js')).toBe(text.toString());
    await waitFor(
      async () => (await redis.exists(`${prefix}:shard:{${shardId}}:meta`)) === 0,
      budgetMs(15_000),
      'eviction after flush',
    );
  });
});

describe('a file operation during a database outage', () => {
  let pgProxy: TcpProxy;
  afterAll(async () => {
    await pgProxy?.close();
  });
  const t = useTandem({
    database: 'postgres',
    env: FAST_JOBS,
    appDatabaseUrl: async (url) => {
      pgProxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
      return url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${pgProxy.port}`);
    },
  });
  afterAll(() => pgProxy.resume());

  it('is shown to everyone at once but acknowledged only when the database holds it', async () => {
    const server = t.apps[0]!;
    const shardId = await createShard(server.url);
    const session = await (await t.client()).join(shardId);
    const watcher = await (await t.client()).join(shardId);

    pgProxy.pause();
    let acknowledged = false;
    const created = session.createFile('src/made-in-outage.js', '').then((result) => {
      acknowledged = true;
      return result;
    });
    // In the live state and broadcast: the collaborator sees it; its author is not done.
    await waitFor(() => watcher.fileId('src/made-in-outage.js') !== undefined, budgetMs(5_000), 'the broadcast');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(acknowledged).toBe(false);
    expect(session.status).not.toBe('saved');

    pgProxy.resume();
    const file = await created;
    expect(await storedContent(t.db.url, shardId, 'src/made-in-outage.js')).toBe('');
    expect(watcher.fileId('src/made-in-outage.js')).toBe(file.id);
  });
});

describe('a sync worker killed in the middle of a job', () => {
  const t = useTandem({ database: 'postgres', role: 'api', env: FAST_JOBS });
  const prefix = t.prefix;
  let api: RunningApp;
  let worker: ServerProcess | undefined;

  beforeAll(() => {
    api = t.apps[0]!;
  });

  it('is run again after its lock expires, and the result is consistent', async () => {
    worker = await t.startProcess({ args: ['--role', 'worker'], env: KILL_JOBS });
    const shardId = await createShard(api.url);
    const c = await t.client();
    const session = await c.join(shardId);
    const text = await session.openFile('index.html');

    // Hold the shards table so the job blocks inside its transaction.
    const blocker = new pg.Client({ connectionString: t.db.url });
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
        await waitFor(async () => (await queue.getActiveCount()) > 0, budgetMs(10_000), 'job active');
        await worker.kill('SIGKILL');
        worker = undefined;
      } finally {
        await queue.close();
      }
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    const restarted = await t.startProcess({ args: ['--role', 'worker'], env: KILL_JOBS });
    await waitFor(
      async () =>
        (await storedContent(t.db.url, shardId, 'index.html'))?.includes('<!-- written while the worker dies -->'),
      budgetMs(15_000),
      'job re-run after stall',
    );
    expect(await storedContent(t.db.url, shardId, 'index.html')).toBe(text.toString());
    const queue = new Queue(SYNC_QUEUE_NAME, {
      connection: createTestRedis(),
      prefix: bullPrefix(prefix, TEST_REDIS_CLUSTER_NODES !== undefined),
    });
    try {
      // The text is in the database from inside the job; BullMQ marks it completed after it returns.
      await waitFor(
        async () =>
          /stalled|moved to wait/i.test(restarted.output()) ||
          (await queue.getCompleted()).some((j) => j.stalledCounter >= 1),
        budgetMs(5_000),
        'the re-run job completed after its stall',
      );
    } finally {
      await queue.close();
    }
  });
});

/**
 * Two shards of one sync partition (of the default SYNC_CONCURRENCY, 3), so one sync job holds
 * both, each joined by one client with index.html open.
 */
async function twoShardsOfOnePartition(t: ReturnType<typeof useTandem>) {
  const api = t.apps[0]!;
  const first = await createShard(api.url);
  let second = await createShard(api.url);
  while (syncPartitionOf(second, 3) !== syncPartitionOf(first, 3)) second = await createShard(api.url);
  const c = await t.client();
  const sessions = await Promise.all([first, second].map((id) => c.join(id)));
  const texts = await Promise.all(sessions.map((session) => session.openFile('index.html')));
  return { first, second, sessions, texts };
}

describe('a sync worker killed inside a group commit', () => {
  const t = useTandem({ database: 'postgres', role: 'api', env: FAST_JOBS });
  const prefix = t.prefix;

  it('commits nothing of the group, and the job run again writes every shard in it', async () => {
    const { first, second, sessions, texts } = await twoShardsOfOnePartition(t);
    const queue = new Queue(SYNC_QUEUE_NAME, {
      connection: createTestRedis(),
      prefix: bullPrefix(prefix, TEST_REDIS_CLUSTER_NODES !== undefined),
    });
    // Hold the files table so the job blocks inside its one transaction for both shards.
    const blocker = new pg.Client({ connectionString: t.db.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table shard_files in access exclusive mode');
    let worker: ServerProcess | undefined;
    try {
      // Both edits are stored before the worker (and its scheduler) starts: its first job holds both.
      for (const [i, text] of texts.entries()) text.insert(0, `<!-- group ${i} -->`);
      await Promise.all(sessions.map((session) => session.flushed()));
      worker = await t.startProcess({ args: ['--role', 'worker'], env: KILL_JOBS });
      await waitFor(async () => (await queue.getActiveCount()) > 0, budgetMs(10_000), 'job active');
      const [active] = await queue.getActive();
      expect(active?.data.shards.map((s: { shardId: string }) => s.shardId).sort()).toEqual([first, second].sort());
      await worker.kill('SIGKILL');
      worker = undefined;
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    // Nothing of the killed transaction is in the database.
    for (const id of [first, second])
      expect(await storedContent(t.db.url, id, 'index.html')).not.toContain('<!-- group');
    await t.startProcess({ args: ['--role', 'worker'], env: KILL_JOBS });
    for (const [i, id] of [first, second].entries()) {
      await waitFor(
        async () => (await storedContent(t.db.url, id, 'index.html')) === texts[i]!.toString(),
        budgetMs(15_000),
        `shard ${i} written by the job run again`,
      );
    }
    await queue.close();
  });
});

describe('a sync worker killed between its commit and the compaction', () => {
  const t = useTandem({ database: 'postgres', role: 'api', env: FAST_JOBS });
  const prefix = t.prefix;

  it('leaves the changes dirty and unannounced, and the job run again compacts them and says saved', async () => {
    // One job holds both shards, and commits them as a group.
    const { first, second, sessions, texts } = await twoShardsOfOnePartition(t);
    for (const [i, text] of texts.entries()) text.insert(0, `<!-- committed ${i} -->`);
    await Promise.all(sessions.map((session) => session.flushed()));
    // Its sync thread kills the process right after the group's commit (TANDEM_TEST_SYNC_CRASH).
    const doomed = await t.startProcess({
      args: ['--role', 'worker'],
      env: { ...KILL_JOBS, TANDEM_TEST_FAULTS: 'true', TANDEM_TEST_SYNC_CRASH: 'after-commit' },
    });
    await waitFor(
      () => doomed.child.exitCode !== null || doomed.child.signalCode !== null,
      budgetMs(15_000),
      'the worker killed after its commit',
    );
    expect(doomed.child.signalCode).toBe('SIGKILL');
    const redis = createTestRedis();
    try {
      // Committed, not compacted: the database holds both texts, Redis still has both dirty, and
      // nobody was told "saved".
      for (const [i, id] of [first, second].entries()) {
        expect(await storedContent(t.db.url, id, 'index.html')).toBe(texts[i]!.toString());
        expect(await redis.zcard(shardKeys(prefix, id).dirty)).toBeGreaterThan(0);
      }
      expect(sessions.map((session) => session.status)).not.toContain('saved');
      // The job run again finds the rows written, compacts, and announces.
      await t.startProcess({ args: ['--role', 'worker'], env: KILL_JOBS });
      await waitFor(
        () => sessions.every((session) => session.status === 'saved'),
        budgetMs(20_000),
        'both sessions saved',
      );
      for (const [i, id] of [first, second].entries()) {
        expect(await redis.zcard(shardKeys(prefix, id).dirty)).toBe(0);
        expect(await storedContent(t.db.url, id, 'index.html')).toBe(texts[i]!.toString());
      }
    } finally {
      redis.disconnect();
    }
  });
});

describe('SIGTERM with unsynced edits', () => {
  const t = useTandem({ instances: 0, database: 'postgres' });

  it('flushes every acknowledged edit before the process exits', async () => {
    // No periodic sync: only the shutdown flush can write these edits.
    const proc = await t.startProcess({ env: { SYNC_INTERVAL_MS: '3600000' } });
    const shardId = await createShard(proc.url);
    const c = await t.client(proc.url);
    const session = await c.join(shardId);
    const text = await session.openFile('src/main.js');
    for (let i = 0; i < 100; i++) text.insert(text.length, `e${i};`);
    await session.flushed();
    expect(await storedContent(t.db.url, shardId, 'src/main.js')).not.toContain('e99;');
    const code = await proc.kill('SIGTERM');
    c.socket.disconnect();
    expect(code).toBe(0);
    expect(await storedContent(t.db.url, shardId, 'src/main.js')).toBe(text.toString());
    expect(proc.output()).toContain('shutdown complete');
  });
});

describe('a REST read during a database outage', () => {
  let pgProxy: TcpProxy;
  // Registered before the harness, so it runs after the harness closed the app.
  afterAll(async () => {
    pgProxy?.resume();
    await pgProxy?.close();
  });
  const logs = new LogCapture();
  const t = useTandem({
    database: 'postgres',
    logs,
    appDatabaseUrl: async (url) => {
      pgProxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
      return url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${pgProxy.port}`);
    },
  });
  it('is 503 SHARD_UNAVAILABLE, and the server logs what failed underneath', async () => {
    const shardId = await createShard(t.url());
    const admin = await adminToken();
    pgProxy.pause();
    const res = await fetch(`${t.url()}/shards/${shardId}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SHARD_UNAVAILABLE');
    const line = logs.lines.find((l) => l['msg'] === 'request failed; retryable');
    expect(line).toMatchObject({ level: 40, code: 'SHARD_UNAVAILABLE', url: `/shards/${shardId}` });
    expect((line?.['err'] as { message?: string } | undefined)?.message).toEqual(expect.any(String));

    pgProxy.resume();
    const again = await fetch(`${t.url()}/shards/${shardId}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(again.status).toBe(200);
  });
});
