import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings, runChaos, type ChaosSettings } from '../../chaos/suite.js';
import { formatTable } from '../../chaos/report.js';
import { freshDistEntry } from '../../chaos/fresh-dist.js';
import { TEST_REDIS_CLUSTER_NODES } from '../support/services.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/**
 * The chaos suite (`npm run chaos`) in miniature: two API instances behind their balancers, a
 * separate worker, a dedicated redis-server, a steady load of 8 clients on 2 shards, and three
 * faults: kill -9 of an instance; FLUSHALL while sync jobs are mid-transaction, then nobody
 * types; and a 3 s PostgreSQL outage during which Redis is flushed and every client reconnects
 * (their rejoins fail until the database is back). Servers run from dist/ when it is built, to
 * keep start-up light on two cores — rebuilt first if any source changed since (a stale dist/
 * would test old code).
 */
const settings: ChaosSettings = {
  ...defaultSettings(true),
  faults: ['instance-kill', 'redis-flush', 'flush-in-outage'],
  instances: 2,
  clients: 8,
  shards: 2,
  loadSeconds: 2,
  flushOutageMs: 3000,
  burstShards: 0,
  entry: 'source',
  serverEnv: {},
  recoveryTimeoutMs: 40_000,
  checkTimeoutMs: 30_000,
};

// It runs its own single redis-server; under `npm run test:cluster` there is nothing to add.
describe.skipIf(TEST_REDIS_CLUSTER_NODES !== undefined)('chaos (short)', () => {
  beforeAll(async () => {
    settings.entry = await freshDistEntry(REPO_ROOT);
  }, 300_000);

  it('loses no acknowledged edit and converges through an instance kill, a Redis flush mid-sync and a flush during a database outage', async () => {
    const lines: string[] = [];
    const report = await runChaos(settings, {
      log: (message) => lines.push(message),
      onLogs: (logs, startedAt, passed) => {
        if (passed) return;
        const dir = join(REPO_ROOT, 'test-artifacts', `chaos-short-${startedAt.replaceAll(':', '-')}`);
        mkdirSync(dir, { recursive: true });
        for (const { name, output } of logs) writeFileSync(join(dir, `${name.replaceAll('#', '-')}.log`), output);
        lines.push(`server logs in ${dir}`);
      },
    });
    const explain = `\n${formatTable(report.results)}\n\n${lines.join('\n')}`;
    expect(
      report.results.map((r) => r.fault),
      explain,
    ).toEqual(settings.faults);
    for (const result of report.results) {
      expect(result.lost, `${result.fault}: acknowledged edits lost${explain}`).toBe(0);
      expect(result.convergedShards, `${result.fault}: clients diverged${explain}`).toBe(result.totalShards);
      expect(result.recoverSeconds, `${result.fault}: did not recover${explain}`).not.toBeNull();
      expect(result.passed, `${result.fault}: ${result.notes.join('; ')}${explain}`).toBe(true);
    }
  }, 150_000);
});
