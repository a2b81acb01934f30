import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBench } from '../src/run-bench.js';

const DIST_MAIN = fileURLToPath(new URL('../../server/dist/main.js', import.meta.url));

/**
 * `npm run bench -- --quick` as a test: every scenario against Tandem and the baselines, small
 * and short. It asserts correctness only — no update lost, every room converged, the server's
 * state equal to the clients', one load for a crowd join, every change in the database — never
 * timings, which depend on the machine.
 */
describe('npm run bench -- --quick', () => {
  it('loses no update and converges in every scenario', { timeout: 420_000 }, async ({ onTestFailed }) => {
    if (!existsSync(DIST_MAIN))
      throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
    // The sync threads at the event loop's priority: this file runs beside the rest of the suite,
    // which keeps both cores busy, and a thread at nice 10 (the default) then gets a tenth of a
    // core's share: the likely cause (not proven) of a scenario's wait for an eviction running out
    // when this file ran beside the browser tests (docs/operations.md: on a saturated machine,
    // SYNC_THREAD_NICE=0).
    // Which scenario ran when: shown if the test fails or runs out of time (a CI run hit the
    // timeout once, at about twice the usual duration, without a word of where).
    const started = Date.now();
    const progress: string[] = [];
    onTestFailed(() => {
      console.error(`bench --quick progress:\n${progress.join('\n')}`);
    });
    const results = await runBench({
      quick: true,
      tandemEnv: { SYNC_THREAD_NICE: '0' },
      log: (line) => progress.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${line}`),
    });
    expect(results.map((r) => r.scenario)).toEqual(
      expect.arrayContaining(['fanout', 'scaleout', 'presence', 'idle', 'join', 'sync']),
    );
    expect(new Set(results.map((r) => r.target))).toEqual(
      new Set([
        'tandem',
        'y-websocket relay',
        'hocuspocus',
        'hocuspocus +SQLite',
        'tandem ×2',
        'hocuspocus+redis ×2',
        'hocuspocus+redis ×2 +SQLite',
      ]),
    );
    for (const r of results) {
      const what = `${r.scenario} ${r.case} ${r.target}: ${JSON.stringify(r.notes ?? [])}`;
      if (r.lost !== undefined) expect(r.lost, what).toBe(0);
      if (r.converged !== undefined) expect(r.converged, what).toBe(true);
      expect(r.ok, what).toBe(true);
    }
  });
});
