import { Redis } from 'ioredis';
import { startTandem, type TandemDeployment } from '../targets/deployments.js';
import { signToken } from '../targets/jwt.js';
import { createShards, metricValue } from '../targets/tandem-rest.js';
import { call, connectSocket } from '../targets/tandem-socket.js';
import { Samples, summarize } from '../stats.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const admin = (n: string) => signToken({ sub: `bench-join-${n}`, role: 'admin' });

/** Waits until the shard's keys left Redis (flushed and evicted), so the next join is cold. */
async function waitEvicted(redis: Redis, d: TandemDeployment, shardIds: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of shardIds) {
    while ((await redis.exists(`${d.prefix}:shard:{${id}}:meta`)) === 1) {
      if (Date.now() > deadline) {
        const sync = (await d.metrics())
          .split('\n')
          .filter((line) => /^tandem_(sync|open_shards|unsynced)/.test(line))
          .join('\n');
        throw new Error(`shard ${id} was not evicted in ${timeoutMs} ms\n${sync}\n${d.logs()}`);
      }
      await sleep(50);
    }
  }
}

/**
 * Join: a shard of 200 files totalling 2 MB. Cold join (loaded from the database into Redis)
 * and warm join (already cached), each as the time to the `shard:join` ack on a connected socket;
 * then 100 clients joining one cold shard at once (one load, single-flight).
 */
export async function joinScenario(ctx: BenchContext, emit: (r: ScenarioResult) => void): Promise<void> {
  const shards = ctx.quick ? 1 : 5;
  const cycles = ctx.quick ? 3 : 20;
  const files = ctx.quick ? 40 : 200;
  const fileBytes = 10_240;
  const crowd = ctx.quick ? 20 : 100;
  ctx.log(`join: ${shards} shards × ${files} files, ${cycles} cold cycles, ${crowd} at once`);
  // Eviction is what makes the next join cold: short grace and scan, and a limiter that lets the
  // flush-and-evict jobs through quickly. Loading (what is measured) is unaffected.
  const d = await startTandem(ctx, {
    name: 'join',
    serverEnv: {
      CACHE_EVICT_GRACE_MS: '100',
      SYNC_INTERVAL_MS: '200',
      SYNC_LIMIT_MAX: '1000',
      SYNC_LIMIT_DURATION_MS: '1000',
    },
  });
  const redis = new Redis(ctx.redisUrl);
  const url = d.urls[0]!;
  try {
    const ids = await createShards(url, admin('setup'), shards);
    const filler = 'x'.repeat(fileBytes - 40);
    await Promise.all(
      ids.map(async (id, s) => {
        const socket = await connectSocket(url, admin(`setup-${s}`));
        await call(socket, 'shard:join', { shardId: id });
        const existing = 4;
        for (let f = existing; f < files; f++) {
          await call(socket, 'file:create', {
            shardId: id,
            path: `src/module-${String(f).padStart(3, '0')}.js`,
            content: `// file ${f}\nexport const v = '${filler}';\n`,
          });
        }
        socket.disconnect();
      }),
    );
    await waitEvicted(redis, d, ids);

    const joiner = await connectSocket(url, admin('cold'));
    const cold = new Samples();
    let treeSize = 0;
    for (let c = 0; c < cycles; c++) {
      for (const id of ids) {
        const t = performance.now();
        const joined = await call<{ files: unknown[] }>(joiner, 'shard:join', { shardId: id });
        cold.add(performance.now() - t);
        treeSize = joined.files.length;
        await call(joiner, 'shard:leave', { shardId: id });
      }
      await waitEvicted(redis, d, ids);
    }

    const holder = await connectSocket(url, admin('holder'));
    await call(holder, 'shard:join', { shardId: ids[0] });
    const warm = new Samples();
    for (let i = 0; i < cycles * shards; i++) {
      const t = performance.now();
      await call(joiner, 'shard:join', { shardId: ids[0] });
      warm.add(performance.now() - t);
      await call(joiner, 'shard:leave', { shardId: ids[0] });
    }
    holder.disconnect();
    joiner.disconnect();

    // A crowd on one cold shard: every join waits for the one load.
    const target = ids[ids.length - 1]!;
    await waitEvicted(redis, d, [target]);
    const sockets = await Promise.all(Array.from({ length: crowd }, (_, i) => connectSocket(url, admin(`crowd-${i}`))));
    const loadsBefore = metricValue(await d.metrics(), 'tandem_shard_loads_total') ?? 0;
    const started = performance.now();
    const times = await Promise.all(
      sockets.map(async (socket) => {
        await call(socket, 'shard:join', { shardId: target });
        return performance.now() - started;
      }),
    );
    const loads = (metricValue(await d.metrics(), 'tandem_shard_loads_total') ?? 0) - loadsBefore;
    for (const s of sockets) s.disconnect();

    const coldSummary = cold.summary();
    const warmSummary = warm.summary();
    const crowdSummary = summarize(times);
    const bytes = files * fileBytes;
    emit({
      scenario: 'join',
      case: `${treeSize} files, ${(bytes / 1048576).toFixed(1)} MiB`,
      target: d.label,
      ok: loads === 1 && treeSize === files,
      latency: coldSummary,
      extra: {
        cold: coldSummary,
        warm: warmSummary,
        crowd: { clients: crowd, ...crowdSummary, loads },
        summary: `cold p50/p99 ${coldSummary.p50Ms}/${coldSummary.p99Ms} ms (n=${coldSummary.count}); warm p50/p99 ${warmSummary.p50Ms}/${warmSummary.p99Ms} ms (n=${warmSummary.count}); ${crowd} at once: p50/p99/max ${crowdSummary.p50Ms}/${crowdSummary.p99Ms}/${crowdSummary.maxMs} ms, ${loads} load(s)`,
      },
      notes: loads === 1 ? [] : [`${loads} loads for one crowd join (expected 1)`],
    });
  } finally {
    redis.disconnect();
    await d.stop();
  }
}
