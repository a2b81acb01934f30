import { describe, expect, it } from 'vitest';
import { TandemError, TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs } from '../support/time-budget.js';

/**
 * Issue 12 item 10: one shard must never fill Redis. With MAX_FILE_BYTES 4096 the shard may hold
 * MAX_SHARD_UNSYNCED_BYTES = 8192 bytes of unsynced Yjs data; a write past it is refused with a
 * retryable code and syncs the shard at once.
 */
const env = { MAX_FILE_BYTES: '4096', MAX_SHARD_UNSYNCED_BYTES: '8192' };
const paths = ['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'f5.txt'];

describe('shard backlog through the SDK', () => {
  const t = useTandem({ env });

  it('a client that hits the bound keeps its text, and everything it typed is saved', async () => {
    const shardId = await createShard(t.url(), 'static');
    const rest = new TandemRest({ url: t.url(), token: await adminToken() });
    for (const path of paths) await rest.writeFile(shardId, path, '');
    const session = await t.session(shardId);
    const refused: unknown[] = [];
    session.on('refused', (r) => refused.push(r));
    const texts = await Promise.all(paths.map((p) => session.openFile(p)));
    const refusalsBefore = await backlogRefusals();
    // One turn: six edits of about 3 KiB each, more than twice the bound.
    texts.forEach((text, i) => text.insert(0, String.fromCharCode(97 + i).repeat(3000)));

    await session.saved(budgetMs(30_000));
    expect(await backlogRefusals()).toBeGreaterThan(refusalsBefore);
    expect(refused).toEqual([]);
    const stored = await t.apps[0]!.app.repository.findById(shardId);
    paths.forEach((path, i) => {
      expect(texts[i]!.toString()).toBe(String.fromCharCode(97 + i).repeat(3000));
      expect(stored?.files.find((f) => f.path === path)?.content, path).toBe(texts[i]!.toString());
    });
  });

  async function backlogRefusals(): Promise<number> {
    const metric = await t.apps[0]!.app.metrics.backlogRefusals.get();
    return metric.values[0]?.value ?? 0;
  }
});

describe('shard backlog: the refusal syncs the shard at once', () => {
  // The scheduler ticks once at start, then not again during the test.
  const t = useTandem({ env: { ...env, SYNC_INTERVAL_MS: '600000' } });

  it('a REST write past the bound gets 503 SHARD_UNAVAILABLE (backlog), and the shard is saved without the scheduler', async () => {
    const app = t.apps[0]!.app;
    const firstScan = await waitFor(() => app.scheduler.lastScan, budgetMs(5_000), 'the first scheduler tick');
    const shardId = await createShard(t.url(), 'static');
    const rest = new TandemRest({ url: t.url(), token: await adminToken() });
    await rest.writeFile(shardId, 'a.txt', 'a'.repeat(3000));
    await rest.writeFile(shardId, 'b.txt', 'b'.repeat(3000));
    let refusal: unknown;
    try {
      await rest.writeFile(shardId, 'c.txt', 'c'.repeat(3000));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(TandemError);
    expect(refusal).toMatchObject({ code: 'SHARD_UNAVAILABLE', details: { reason: 'backlog' } });

    // The files' rows are there at once (file operations are written through); their texts come
    // with the sync the refusal started.
    const stored = await waitFor(
      async () => {
        const shard = await app.repository.findById(shardId);
        return shard?.files.find((f) => f.path === 'b.txt')?.content === 'b'.repeat(3000) ? shard : null;
      },
      budgetMs(10_000),
      'the backlogged shard in the database',
    );
    expect(stored.files.find((f) => f.path === 'a.txt')?.content).toBe('a'.repeat(3000));
    // Synced and compacted: the same write now fits.
    await waitFor(async () => (await rest.writeFile(shardId, 'c.txt', 'c'.repeat(3000))).created, budgetMs(10_000));
    expect(app.scheduler.lastScan).toBe(firstScan);
  });
});
