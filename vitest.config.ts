import { defineConfig } from 'vitest/config';
import { budgetMs } from './packages/server/test/support/time-budget.js';
import LongFilesFirst from './packages/server/test/support/long-files-first.js';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    sequence: { sequencer: LongFilesFirst },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts'],
          globalSetup: ['packages/server/test/support/global-setup.ts'],
          environment: 'node',
          // 60 s on an idle machine, longer in proportion to the load (test/support/time-budget.ts).
          testTimeout: budgetMs(30_000),
          hookTimeout: budgetMs(30_000),
          // Tests start real servers, Redis connections and worker threads; two cores.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          fileParallelism: true,
        },
      },
    ],
  },
});
