import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, tokenFor } from '../support/test-app.js';
import { TEST_REDIS_CLUSTER_NODES } from '../support/services.js';
import { createShardRepository, type IShardRepository } from '../../src/persistence/index.js';
import { ChaosCluster } from '../../chaos/cluster.js';
import { freshDistEntry } from '../../chaos/fresh-dist.js';
import {
  modelFaultKinds,
  modelOperations,
  modelSeed,
  runModel,
  traceFor,
  type ModelSettings,
} from '../../chaos/model.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/**
 * The model-based test of issue 10's promise, short version (`npm run chaos -- --only model` runs
 * a long one): 6 SDK clients on 2 shards over 3 API instances behind their balancers, a seeded
 * random mix of typing, file and folder creates, renames and deletes, disconnects with offline
 * work, and one each of: acks dropped on an instance, an instance killed with SIGKILL, an
 * instance that dies right after storing a change and before broadcasting it (each restarted a
 * moment later), Redis flushed. Then everything stops and clients, server and database must
 * agree; at every "saved" a session claimed, what it had acknowledged (and typed) must have been
 * in the database. Replay a run with MODEL_SEED=<the printed seed>; MODEL_FAULTS=<kind,…> limits
 * the faults to those kinds (see chaos/model.ts); MODEL_OPERATIONS=<n> runs a longer script;
 * A failure prints the faults and the trace (operations, acks, tree changes heard, saved checks)
 * of the files it names; MODEL_TRACE=1 prints the whole trace, MODEL_TRACE=0 records none.
 */
const faultKinds = modelFaultKinds(process.env);
const operations = modelOperations(350);
const settings: ModelSettings = {
  seed: modelSeed(),
  clients: 6,
  shards: 2,
  operations,
  stepMs: [20, 60],
  faults: Math.max(faultKinds.length, Math.round(operations / 150)),
  faultKinds,
  settleTimeoutMs: 30_000,
  // Always traced; a failure prints the trace lines about the files it names (MODEL_TRACE=1: all).
  trace: process.env['MODEL_TRACE'] !== '0',
};

// It runs its own single redis-server (it flushes it); under `npm run test:cluster` there is nothing to add.
describe.skipIf(TEST_REDIS_CLUSTER_NODES !== undefined)('the trust promise under a random model', () => {
  let cluster: ChaosCluster;
  let repository: IShardRepository;
  const lines: string[] = [];

  beforeAll(async () => {
    const entry = await freshDistEntry(REPO_ROOT);
    cluster = await ChaosCluster.start({
      instances: 3,
      entry,
      env: { TANDEM_TEST_FAULTS: 'true' },
      log: (message) => lines.push(message),
    });
    repository = createShardRepository({ kind: 'postgres', url: cluster.directDatabaseUrl, poolSize: 2 });
  }, 240_000);

  afterAll(async () => {
    await repository?.close();
    await cluster?.close();
  });

  it(
    'keeps clients, server and database equal and never says saved too early',
    async () => {
      const report = await runModel(settings, {
        cluster,
        repository,
        adminToken: await adminToken(),
        tokenFor: (i) => tokenFor({ sub: `model-${i}`, role: 'admin' }),
        log: (message) => lines.push(message),
      });
      const figures =
        `seed ${report.seed} (replay: MODEL_SEED=${report.seed}): ${report.operationsTotal} operations ` +
        `${JSON.stringify(report.operations)}; faults ${JSON.stringify(report.faults)}; ` +
        `${report.ackedTokens} tokens and ${report.ackedTreeOps} tree operations acknowledged; ` +
        `${report.savedChecks} saved checks, false saved ${report.falseSaved} (typed: ${report.falseSavedTyped}); ` +
        `divergences ${report.divergences}; lost tokens ${report.lostTokens}, lost tree ops ${report.lostTreeOps}; ` +
        `dropped tree ops ${JSON.stringify(report.droppedTreeOps)}; refused ${report.refusedTreeOps} tree ops, ${report.refusedEdits} edits; ` +
        `settled ${report.settleSeconds === null ? 'never' : `in ${report.settleSeconds.toFixed(1)} s`}`;
      process.stdout.write(`model-trust: ${figures}\n${report.samples.map((line) => `  ${line}\n`).join('')}`);
      const explained = traceFor(lines, report.samples, process.env['MODEL_TRACE'] === '1');
      const explain = `\n${figures}\n${report.samples.join('\n')}\n${explained.join('\n')}`;
      for (const kind of faultKinds) expect(report.faults[kind], `${kind} injected${explain}`).toBeGreaterThan(0);
      expect(report.divergences, `divergences${explain}`).toBe(0);
      expect(report.falseSaved, `false "saved"${explain}`).toBe(0);
      expect(report.falseSavedTyped, `false "saved" (typed)${explain}`).toBe(0);
      expect(report.lostTokens + report.lostTreeOps, `lost${explain}`).toBe(0);
      expect(report.droppedTreeOps, `dropped tree operations${explain}`).toEqual({ offline: 0, online: 0 });
      expect(report.settleSeconds, `never settled${explain}`).not.toBeNull();
      expect(report.passed, explain).toBe(true);
    },
    120_000 + settings.operations * 100,
  );
});
