import { readdirSync, readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import type { TandemClient } from '@tandem/client-sdk';
import { loadConfig } from '../../src/config/index.js';
import { createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { createTestRedis, testRedisKeys } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { deadInstanceSweepBudgetMs, evictBudgetMs, syncBudgetMs } from '../support/time-budget.js';

describe('sync through the BullMQ worker (worker threads)', () => {
  // A sync job the killed instance's worker held is found stalled within a second (the sweep waits for it).
  const t = useTandem({ database: 'postgres', env: { SYNC_STALLED_INTERVAL_MS: '1000' } });
  const prefix = t.prefix;
  let redis: Redis | Cluster;
  const server = {
    get url() {
      return t.url(0);
    },
    get app() {
      return t.apps[0]!.app;
    },
  };

  beforeAll(() => {
    redis = createTestRedis();
  });

  afterAll(() => {
    redis.disconnect();
  });

  function client(url?: string): Promise<TandemClient> {
    return t.client(url ?? 0);
  }

  const shardKeyCount = async (shardId: string) => (await testRedisKeys(redis, `${prefix}:shard:{${shardId}}*`)).length;

  it('flushes edits in a worker thread and tells the editor they are saved', async () => {
    const shardId = await createShard(server.url);
    const session = await (await client()).join(shardId);
    const text = await session.openFile('src/main.js');
    text.insert(0, '// saved by the worker\n');
    await session.saved(syncBudgetMs(t.apps[0]!.config));
    expect(session.status).toBe('saved');
    const stored = await server.app.repository.findById(shardId);
    expect(stored!.files.find((f) => f.path === 'src/main.js')!.content).toBe(text.toString());

    // The room hears "saved" from inside the job; BullMQ marks the job completed after it returns.
    const completed = await waitFor(
      async () => {
        const jobs = await server.app.queue.queue.getCompleted();
        return jobs.length > 0 ? jobs : undefined;
      },
      syncBudgetMs(t.apps[0]!.config),
      'a completed sync job',
    );
    const threads = completed.map((j) => (j.returnvalue as { threadId: number }).threadId);
    expect(threads.length).toBeGreaterThan(0);
    for (const t of threads) expect(t).not.toBe(threadId);
    expect(threads.every((t) => t > 0)).toBe(true);
  });

  it('flushes and evicts after the last collaborator leaves', async () => {
    const shardId = await createShard(server.url);
    const c = await client();
    const session = await c.join(shardId);
    (await session.openFile('index.html')).insert(0, '<!-- before leaving -->');
    await session.flushed();
    expect(await shardKeyCount(shardId)).toBeGreaterThan(0);
    await c.leave(shardId);
    await waitFor(async () => (await shardKeyCount(shardId)) === 0, evictBudgetMs(t.apps[0]!.config), 'eviction');
    const stored = await server.app.repository.findById(shardId);
    expect(stored!.files.find((f) => f.path === 'index.html')!.content).toContain('<!-- before leaving -->');
  });

  it('sweeps a shard whose only instance died: members expire, the shard is flushed and evicted', async () => {
    const shardId = await createShard(server.url);
    // The same scan interval as the survivor: the scheduler's leader lock lasts one interval, so a
    // dead instance with a long interval could hold it (and stop every sweep) for that long.
    const doomed = await t.startProcess({ env: { SYNC_LOCK_DURATION_MS: '5000' } });
    try {
      const c = await client(doomed.url);
      const session = await c.join(shardId);
      (await session.openFile('index.html')).insert(0, '<!-- acked before the crash -->');
      await session.flushed();
      await doomed.kill('SIGKILL');
      c.socket.disconnect();
      await waitFor(
        async () => (await shardKeyCount(shardId)) === 0,
        deadInstanceSweepBudgetMs(doomed.config, t.apps[0]!.config),
        'sweep eviction',
      );
      const stored = await server.app.repository.findById(shardId);
      expect(stored!.files.find((f) => f.path === 'index.html')!.content).toContain('<!-- acked before the crash -->');
    } finally {
      await doomed.kill('SIGKILL');
    }
  });

  it('exposes Prometheus metrics', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const body = await res.text();
    for (const name of [
      'tandem_connected_sockets',
      'tandem_open_shards',
      'tandem_edits_total',
      'tandem_sync_jobs_total{status="completed"}',
      'tandem_sync_job_duration_seconds_bucket',
      'tandem_sync_lag_seconds',
      'tandem_unsynced_files',
      'tandem_unsynced_updates',
      'tandem_unsynced_bytes',
      'tandem_sync_queue_depth',
    ]) {
      expect(body).toContain(name);
    }
    // Every accepted edit's time to its store and broadcast is observed.
    const value = (metric: string) => Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(body)?.[1]);
    expect(value('tandem_edits_total')).toBeGreaterThan(0);
    expect(value('tandem_edit_store_seconds_count')).toBe(value('tandem_edits_total'));
  });
});

describe('sync thread priority', () => {
  // The suite runs sync threads at nice 0 (test-app.ts); this file's app at production's value.
  const nice = useTandem({ database: 'sqlite', env: { SYNC_THREAD_NICE: '10' } });

  it.runIf(process.platform === 'linux')(
    'runs the sync threads at SYNC_THREAD_NICE (10 in production), the event loop at its own priority',
    async () => {
      const shardId = await createShard(nice.url(0));
      const session = await (await nice.client(0)).join(shardId);
      (await session.openFile('src/main.js')).insert(0, '// a job starts a sync thread\n');
      await session.saved(syncBudgetMs(nice.apps[0]!.config));
      expect(loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32) }).jobs.threadNice).toBe(10);
      expect(nice.apps[0]!.config.jobs.threadNice).toBe(10);
      // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the name in
      // parentheses, which may hold spaces).
      const niceOf = (tid: string) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const nices = readdirSync('/proc/self/task').map(niceOf);
      const mainNice = niceOf(String(process.pid));
      expect(mainNice).toBe(0);
      // The completed jobs' threads are kept by BullMQ's pool: at least one runs at nice 10.
      expect(nices.filter((n) => n === 10).length).toBeGreaterThan(0);
    },
  );
});
