import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { syncPartitionOf } from '../../src/sync-jobs/index.js';
import { createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { syncBudgetMs } from '../support/time-budget.js';

describe('sync jobs paced to the limiter', () => {
  // The default limiter's shape, faster: 6 jobs per 3 s (a slot of 500 ms), a scan every 500 ms.
  // Three busy partitions want 6 jobs/s, three times what the limiter gives.
  const t = useTandem({
    database: 'sqlite',
    env: { SYNC_LIMIT_MAX: '6', SYNC_LIMIT_DURATION_MS: '3000', SYNC_INTERVAL_MS: '500' },
  });

  it('under a steady load no job waits for the limiter window to close', async () => {
    const { config } = t.apps[0]!;
    const partitions = config.jobs.concurrency;
    // Two shards in every partition.
    const shards: ShardId[] = [];
    const per = new Map<number, number>();
    while (shards.length < 2 * partitions) {
      const id = await createShard(t.url(0));
      const p = syncPartitionOf(id, partitions);
      if ((per.get(p) ?? 0) >= 2) continue;
      per.set(p, (per.get(p) ?? 0) + 1);
      shards.push(id);
    }
    const texts = await Promise.all(
      shards.map(async (id) => {
        const session = await t.session(id);
        return { session, text: await session.openFile('index.html') };
      }),
    );
    // Warm-up: the sync worker threads start with their first jobs.
    for (const { text } of texts) text.insert(0, 'w');
    await Promise.all(texts.map(({ session }) => session.saved(syncBudgetMs(config))));

    const queue = t.apps[0]!.app.queue.queue;
    const since = Date.now();
    const until = since + 6000;
    while (Date.now() < until) {
      for (const { text } of texts) text.insert(0, 'x');
      await sleep(100);
    }
    await Promise.all(texts.map(({ session }) => session.saved(syncBudgetMs(config))));

    const jobs = (await queue.getCompleted(0, 1000)).filter((j) => j.timestamp >= since && j.processedOn !== undefined);
    expect(jobs.length).toBeGreaterThanOrEqual(6);
    // How long each job was ready to run (after its delay) before a worker took it. Greedy, the
    // window's 6 jobs went in its first second and the next ones waited about 2 s for it to close.
    const waits = jobs.map((j) => j.processedOn! - (j.timestamp + (j.opts.delay ?? 0)));
    expect(Math.max(...waits)).toBeLessThan(1000);
  });
});
