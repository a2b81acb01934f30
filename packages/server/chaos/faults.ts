import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { bullPrefix, SYNC_QUEUE_NAME } from '../src/sync-jobs/index.js';
import type { ChaosCluster } from './cluster.js';
import { LoadClient, tokensIn, typeToken, type EditLoad, type TokenLedger } from './load.js';
import { modelScenario } from './model.js';

/** The faults, in the order a full run injects them. */
export const FAULT_NAMES = [
  'instance-kill',
  'worker-kill',
  'db-outage',
  'redis-restart',
  'redis-flush',
  'flush-in-outage',
  'evict-race',
  'model',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export function isFaultName(value: string): value is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(value);
}

/** What a fault may use. */
export type FaultContext = {
  cluster: ChaosCluster;
  load: EditLoad;
  ledger: TokenLedger;
  /** Shards nobody stays in (the join/leave burst uses them). */
  burstShards: readonly ShardId[];
  /** A token for client i (its own user, allowed to write every shard). */
  tokenFor: (clientIndex: number) => Promise<string>;
  /** The file the load types into. */
  path: string;
  /** Connection to the dedicated Redis (reconnects by itself). */
  redis: Redis;
  settings: {
    dbOutageMs: number;
    flushOutageMs: number;
    burstMs: number;
    burstWorkers: number;
    evictGraceMs: number;
    syncIntervalMs: number;
  };
  log: (message: string) => void;
  signal: AbortSignal;
};

export type Injection = {
  /** When the fault ended (the kill, or the end of an outage): recovery is timed from here. */
  endedAt: number;
  notes: string[];
  /** Acknowledged tokens found missing while the fault ran (e.g. at a join during the burst). */
  lost?: Set<string>;
  /**
   * The load is paused when the fault ends: recovery then means the database caught up with
   * every acknowledged edit without new edits helping it along (no realtime probe).
   */
  quiet?: boolean;
  /** Recovery steps that run while recovery is being timed (e.g. starting a replacement process). */
  background?: Promise<void>;
  /** Runs after the checks, before the next fault (restart what was killed, …). */
  restore?: () => Promise<void>;
  /** Notes that can only be written once the system recovered. */
  finish?: () => Promise<string[]>;
  /** Failures the fault itself found (they fail its row). */
  problems?: string[];
};

export type Fault = {
  name: FaultName;
  /** The table's "fault" cell. */
  title: (ctx: FaultContext) => string;
  inject: (ctx: FaultContext) => Promise<Injection>;
};

/** Lines every server process logged since a mark. */
export function logMark(cluster: ChaosCluster): () => string {
  const marks = new Map(cluster.logs().map((l) => [l.name, l.output.length]));
  return () =>
    cluster
      .logs()
      .filter((l) => l.name !== 'redis-server')
      .map((l) => l.output.slice(marks.get(l.name) ?? 0))
      .join('');
}

/** Counts JSON log lines with this `msg`, by shard id where they carry one. */
export function countLogged(text: string, msg: string): { total: number; byShard: Map<string, number> } {
  const byShard = new Map<string, number>();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    total++;
    const shard = /"shardId":"([0-9a-f-]{36})"/.exec(line)?.[1];
    if (shard !== undefined) byShard.set(shard, (byShard.get(shard) ?? 0) + 1);
  }
  return { total, byShard };
}

/** Bytes of the files under a directory (the Redis AOF). */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Runs `fn` with a BullMQ handle on the suite's sync queue. */
async function withQueue<T>(ctx: FaultContext, fn: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue(SYNC_QUEUE_NAME, {
    connection: { url: ctx.cluster.redis.url },
    prefix: bullPrefix(ctx.cluster.prefix),
  });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

/**
 * Holds a write lock on the files table (EXCLUSIVE mode: reads go on, writes wait), waits until
 * a sync job is active, so it is blocked inside its transaction, runs `fn` with the number of
 * active jobs, then lets the jobs commit. Returns that number.
 */
async function withSyncWritesBlocked(ctx: FaultContext, fn: (activeJobs: number) => Promise<void>): Promise<number> {
  const blocker = new pg.Client({ connectionString: ctx.cluster.directDatabaseUrl });
  await blocker.connect();
  try {
    await blocker.query('begin');
    await blocker.query('lock table shard_files in exclusive mode');
    const active = await withQueue(ctx, async (queue) => {
      const deadline = Date.now() + 20_000;
      let n = 0;
      while (Date.now() < deadline && (n = await queue.getActiveCount()) === 0)
        await sleep(20, undefined, { signal: ctx.signal });
      return n;
    });
    // Past the snapshot and the metadata read, into the file writes.
    await sleep(200, undefined, { signal: ctx.signal });
    await fn(active);
    return active;
  } finally {
    await blocker.query('rollback').catch(() => undefined);
    await blocker.end().catch(() => undefined);
  }
}

const instanceKill: Fault = {
  name: 'instance-kill',
  title: () => 'kill -9 of one API instance',
  async inject(ctx) {
    const victim = 0;
    const { instances } = ctx.cluster;
    const moved = ctx.load.clients.filter((c) => c.index % instances.length === victim).length;
    const target = await ctx.cluster.killInstance(victim);
    const endedAt = Date.now();
    ctx.log(`killed ${instances[victim]?.name ?? victim}; its balancer now points at ${target}`);
    return {
      endedAt,
      notes: [`${moved} clients reconnected through their balancer to ${target}`],
      restore: async () => {
        await ctx.cluster.restartInstance(victim);
      },
    };
  },
};

const workerKill: Fault = {
  name: 'worker-kill',
  title: () => 'kill -9 of the sync worker mid-job',
  async inject(ctx) {
    const mark = logMark(ctx.cluster);
    let endedAt = Date.now();
    // The kill lands while sync jobs wait inside their transaction, not between two jobs.
    const active = await withSyncWritesBlocked(ctx, async (activeJobs) => {
      await ctx.cluster.killWorker();
      endedAt = Date.now();
      ctx.log(`killed the worker with ${activeJobs} active job(s)`);
    });
    // What an orchestrator does: start a replacement at once. Recovery is timed from the kill,
    // so the replacement's start-up counts.
    const background = ctx.cluster.startWorker();
    return {
      endedAt,
      background,
      notes: [`${active} job(s) active at the kill; replacement worker started at once`],
      finish: async () => {
        const completed = await withQueue(ctx, (queue) => queue.getJobs(['completed'], 0, 999));
        const rerun = completed.filter((j) => j.stalledCounter >= 1).length;
        const stalledLogged = /stalled/i.test(mark());
        return [
          rerun > 0 || stalledLogged
            ? `stalled job re-run by the new worker (${rerun} completed after a stall)`
            : 'no stalled job seen (the job finished before its lock expired?)',
        ];
      },
    };
  },
};

const dbOutage: Fault = {
  name: 'db-outage',
  title: (ctx) => `PostgreSQL cut off for ${Math.round(ctx.settings.dbOutageMs / 1000)} s`,
  async inject(ctx) {
    const mark = logMark(ctx.cluster);
    ctx.cluster.cutDatabase();
    try {
      await sleep(ctx.settings.dbOutageMs, undefined, { signal: ctx.signal });
    } finally {
      ctx.cluster.restoreDatabase();
    }
    const endedAt = Date.now();
    const failedDuring = countLogged(mark(), 'sync job failed').total;
    return {
      endedAt,
      notes: [
        `${failedDuring} sync job attempts failed during the outage and were retried with backoff; recovery timed from the end of the outage`,
      ],
    };
  },
};

const redisRestart: Fault = {
  name: 'redis-restart',
  title: () => 'Redis kill -9 and restart (AOF, fsync always)',
  async inject(ctx) {
    const aofBytes = directoryBytes(ctx.cluster.redis.dir);
    const downMs = await ctx.cluster.restartRedis();
    const endedAt = Date.now();
    ctx.log(`redis restarted after ${Math.round(downMs)} ms`);
    return {
      endedAt,
      notes: [
        `Redis down ${(downMs / 1000).toFixed(1)} s (replaying a ${(aofBytes / 2 ** 20).toFixed(0)} MiB AOF); recovery timed from its restart`,
      ],
    };
  },
};

const redisFlush: Fault = {
  name: 'redis-flush',
  title: () => 'Redis FLUSHALL mid-sync, then typing stops',
  async inject(ctx) {
    const mark = logMark(ctx.cluster);
    let reloaded = 0;
    // The harsh moment: sync jobs hold a snapshot taken before the flush and commit it after
    // the shards were reloaded from the database (the reload only reads, which the lock allows).
    const active = await withSyncWritesBlocked(ctx, async (activeJobs) => {
      await ctx.cluster.flushRedis();
      ctx.log(`FLUSHALL with ${activeJobs} sync job(s) blocked in their transaction`);
      // The next edit to each shard reloads it and tells its clients to resync (load running).
      const shards = ctx.load.shards;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const loads = countLogged(mark(), 'shard loaded into cache').byShard;
        reloaded = shards.filter((s) => loads.has(s)).length;
        if (reloaded === shards.length && ctx.load.clients.every((c) => c.isLive)) break;
        await sleep(20, undefined, { signal: ctx.signal });
      }
      await sleep(300, undefined, { signal: ctx.signal });
      // Everyone stops typing: no later edit can paper over what the blocked syncs do next.
      ctx.load.pause();
    });
    const endedAt = Date.now();
    return {
      endedAt,
      quiet: true,
      notes: [
        `flushed while ${active} sync job(s) were mid-transaction; typing stopped once ${reloaded}/${ctx.load.shards.length} shards were reloaded; recovery timed from the jobs' commit with nobody typing`,
      ],
      finish: async () => {
        const loads = countLogged(mark(), 'shard loaded into cache');
        const shards = ctx.load.shards;
        const twice = shards.filter((s) => (loads.byShard.get(s) ?? 0) > 1).length;
        return [
          `${shards.filter((s) => loads.byShard.has(s)).length}/${shards.length} shards reloaded from the database${twice > 0 ? ` (${twice} more than once)` : ' once each'}; clients restored the rest through the sync handshake`,
        ];
      },
    };
  },
};

const flushInOutage: Fault = {
  name: 'flush-in-outage',
  title: (ctx) => `Redis FLUSHALL + reconnects during a ${ctx.settings.flushOutageMs / 1000} s PostgreSQL outage`,
  async inject(ctx) {
    const outageMs = ctx.settings.flushOutageMs;
    ctx.cluster.cutDatabase();
    try {
      await ctx.cluster.flushRedis();
      // Every client reconnects while no shard can be loaded: their rejoins are refused
      // (SHARD_UNAVAILABLE) until the database is back.
      for (const slot of ctx.cluster.instances) slot.proxy.dropAll();
      await sleep(outageMs, undefined, { signal: ctx.signal });
    } finally {
      ctx.cluster.restoreDatabase();
    }
    return {
      endedAt: Date.now(),
      notes: [
        `shards flushed and every client reconnected while PostgreSQL was unreachable for ${(outageMs / 1000).toFixed(0)} s; recovery timed from its return`,
      ],
    };
  },
};

const evictRace: Fault = {
  name: 'evict-race',
  title: () => 'join/leave burst racing eviction',
  async inject(ctx) {
    const mark = logMark(ctx.cluster);
    const deadline = Date.now() + ctx.settings.burstMs;
    const lost = new Set<string>();
    let cycles = 0;
    const errors = new Map<string, number>();
    const shards = ctx.burstShards;
    const instances = ctx.cluster.instances.length;
    // Between two sessions a burst client waits up to a few grace periods and scheduler ticks, so
    // a shard is sometimes empty long enough to be flushed and evicted, and sometimes joined
    // again just as that happens.
    const pauseMs = 2 * ctx.settings.evictGraceMs + 2 * ctx.settings.syncIntervalMs + 1000;
    await Promise.all(
      Array.from({ length: ctx.settings.burstWorkers }, async (_, w) => {
        const shardId = shards[w % shards.length] as ShardId;
        while (Date.now() < deadline && !ctx.signal.aborted) {
          // Every token acknowledged before this join must be in the text the join returns,
          // whether the shard was still cached, evicted meanwhile, or being evicted.
          const before = ctx.ledger.acknowledged([shardId]).get(shardId) ?? new Set<string>();
          let client: LoadClient | undefined;
          try {
            client = await LoadClient.connect({
              index: 1000 + w,
              shardId,
              url: ctx.cluster.balancerUrl(Math.floor(Math.random() * instances)),
              token: await ctx.tokenFor(1000 + w),
              path: ctx.path,
              onAck: (update) => ctx.ledger.ack(update),
            });
            cycles++;
            const present = tokensIn(client.text.toString());
            for (const token of before) if (!present.has(token)) lost.add(token);
            const n = 1 + Math.floor(Math.random() * 3);
            for (let i = 0; i < n; i++) {
              typeToken(client, ctx.ledger);
              await sleep(10 + Math.random() * 30);
            }
            await client.session.flushed(10_000);
          } catch (error) {
            const key = error instanceof Error ? error.message : String(error);
            errors.set(key, (errors.get(key) ?? 0) + 1);
          } finally {
            await client?.close();
          }
          await sleep(Math.random() * pauseMs);
        }
      }),
    );
    const endedAt = Date.now();
    const logged = mark();
    const evictions = countLogged(logged, 'shard evicted from cache').total;
    const loads = countLogged(logged, 'shard loaded into cache').total;
    const notes = [`${cycles} join/leave cycles on ${shards.length} shards: ${evictions} evictions, ${loads} loads`];
    if (lost.size > 0) notes.push(`${lost.size} acknowledged tokens missing from the text a later join returned`);
    for (const [message, count] of errors) notes.push(`${count}× burst client error: ${message}`);
    return { endedAt, notes, lost };
  },
};

export const FAULTS: Readonly<Record<FaultName, Fault>> = {
  'instance-kill': instanceKill,
  'worker-kill': workerKill,
  'db-outage': dbOutage,
  'redis-restart': redisRestart,
  'redis-flush': redisFlush,
  'flush-in-outage': flushInOutage,
  'evict-race': evictRace,
  model: modelScenario,
};
