import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectClient, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import type { ServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs, serverStartBudgetMs } from '../support/time-budget.js';

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    // Gone.
    return [];
  }
}

/**
 * The test's own bounds added up: both workers listening, convergence, and a SIGTERM that may wait
 * up to the workers' shutdown deadline (SHUTDOWN_TIMEOUT_MS, 20 s by default) for a sync job in
 * flight — on a loaded machine its worker thread can take seconds to start (a CI run under the
 * whole suite passed vitest's default test timeout, 30 s scaled, while within these bounds).
 */
const TEST_TIMEOUT_MS = serverStartBudgetMs(2) + budgetMs(5_000) + budgetMs(20_000) + budgetMs(10_000);

describe('serve --workers 2 (node:cluster, one port)', () => {
  const t = useTandem({ instances: 0, processes: 1, processOptions: { args: ['--workers', '2'] } });
  let server: ServerProcess;

  beforeAll(() => {
    server = t.processes[0]!;
  });

  it(
    'serves from two full instances on one port, and stops them all on SIGTERM',
    async () => {
      await waitFor(
        () => (server.output().match(/"msg":"listening"/g) ?? []).length === 2,
        serverStartBudgetMs(2),
        'both workers listening',
      );
      const workers = childrenOf(server.child.pid!);
      expect(workers).toHaveLength(2);
      const instanceIds = new Set([...server.output().matchAll(/"instanceId":"([0-9a-f-]{36})"/g)].map((m) => m[1]));
      expect(instanceIds.size).toBe(2);

      const shardId = await createShard(server.url);
      const clients = await Promise.all([0, 1, 2, 3].map(() => connectClient(server.url)));
      try {
        const texts = await Promise.all(clients.map(async (c) => (await c.join(shardId)).openFile('index.html')));
        texts.forEach((t, i) => t.insert(0, `<!-- ${i} -->`));
        await waitFor(
          () => texts.every((t) => t.toString() === texts[0]!.toString() && /<!-- 3 -->/.test(t.toString())),
          budgetMs(5_000),
          'convergence',
        );
        expect([0, 1, 2, 3].every((i) => texts[0]!.toString().includes(`<!-- ${i} -->`))).toBe(true);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }

      expect(await server.kill('SIGTERM')).toBe(0);
      expect(server.output()).toContain('"msg":"worker stopped"');
      for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
    },
    TEST_TIMEOUT_MS,
  );
});
