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
  it('loses no update and converges in every scenario', { timeout: 420_000 }, async () => {
    if (!existsSync(DIST_MAIN))
      throw new Error('packages/server/dist is missing: run `npm run build` first (npm test does)');
    const results = await runBench({ quick: true });
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
