import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectClient, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import type { ServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs, syncBudgetMs } from '../support/time-budget.js';

const DIST_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

describe('the built server (dist/)', () => {
  const t = useTandem({ instances: 0 });
  let server: ServerProcess;

  beforeAll(async () => {
    if (!existsSync(DIST_MAIN))
      throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
    server = await t.startProcess({ entry: 'dist' });
  });

  it('serves edits and syncs them with the compiled processor in a worker thread', async () => {
    const shardId = await createShard(server.url);
    const client = await connectClient(server.url);
    try {
      const session = await client.join(shardId);
      (await session.openFile('index.html')).insert(0, '<!-- from dist -->');
      await session.saved(syncBudgetMs(server.config));
      expect(session.status).toBe('saved');
    } finally {
      await client.close();
    }
    // The job publishes "saved" before it returns, and the worker logs its completion only after
    // BullMQ has recorded it in Redis: the log line may trail the notice by a moment.
    const completed = await waitFor(
      () => {
        const lines = server
          .output()
          .split('\n')
          .filter((l) => l.includes('"msg":"sync job completed"'))
          .map((l) => JSON.parse(l) as { threadId: number });
        return lines.length > 0 ? lines : null;
      },
      budgetMs(5_000),
      'the sync job completion log',
    );
    expect(completed.length).toBeGreaterThan(0);
    expect(completed.every((l) => l.threadId > 0)).toBe(true);
  });
});
