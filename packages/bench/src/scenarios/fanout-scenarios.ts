import { startHocuspocus, startRelay, startTandem, type Deployment } from '../targets/deployments.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';
import { caseLabel, runFanoutCase, type FanoutCase } from './fanout.js';

/** `hocuspocus-db`: Hocuspocus with its Database extension storing to SQLite (default debounce). */
export type TargetName = 'tandem' | 'relay' | 'hocuspocus' | 'hocuspocus-db';

/** Starts a fresh deployment for one case, runs it, stops it (no state carries over). */
async function withDeployment(
  start: () => Promise<Deployment>,
  run: (d: Deployment) => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  const deployment = await start();
  try {
    return await run(deployment);
  } finally {
    await deployment.stop();
  }
}

function starter(
  ctx: BenchContext,
  target: TargetName,
  name: string,
  instances = 1,
  workers?: number,
): () => Promise<Deployment> {
  switch (target) {
    case 'tandem':
      return () => startTandem(ctx, { name, instances, ...(workers === undefined ? {} : { workers }) });
    case 'relay':
      return () => startRelay(ctx);
    case 'hocuspocus':
      return () => startHocuspocus(ctx, { name, instances });
    case 'hocuspocus-db':
      return () => startHocuspocus(ctx, { name, instances, persist: true });
  }
}

/** Fan-out: R rooms × C clients, one instance of each target. */
export async function fanoutScenario(
  ctx: BenchContext,
  targets: TargetName[],
  emit: (r: ScenarioResult) => void,
): Promise<void> {
  const cases: FanoutCase[] = ctx.quick
    ? [
        { rooms: 1, clients: 10, intervalMs: 50 },
        { rooms: 20, clients: 2, intervalMs: 200 },
      ]
    : [
        { rooms: 1, clients: 10, intervalMs: 50 },
        { rooms: 1, clients: 25, intervalMs: 50 },
        { rooms: 1, clients: 50, intervalMs: 50 },
        { rooms: 100, clients: 5, intervalMs: 200 },
        { rooms: 500, clients: 2, intervalMs: 500 },
      ];
  for (const c of cases.filter((x) => ctx.caseFilter === undefined || ctx.caseFilter.includes(caseLabel(x)))) {
    for (const target of targets) {
      ctx.log(`fanout ${caseLabel(c)} ${target}`);
      emit(await withDeployment(starter(ctx, target, `fanout-${target}`), (d) => runFanoutCase(ctx, d, c, 'fanout')));
    }
  }
}

/**
 * Scale-out: the same load over 1, 2 and 3 instances (clients spread round-robin), Tandem's
 * `serve --workers N` (one port, node:cluster), and Hocuspocus with its Redis extension. The
 * relay cannot share a room between instances, so it has no scale-out row.
 */
export async function scaleoutScenario(
  ctx: BenchContext,
  targets: TargetName[],
  workers: number,
  emit: (r: ScenarioResult) => void,
): Promise<void> {
  const c: FanoutCase = ctx.quick
    ? { rooms: 10, clients: 4, intervalMs: 200 }
    : { rooms: 100, clients: 5, intervalMs: 500 };
  const runs: Array<{ target: TargetName; instances: number; workers?: number }> = [];
  if (targets.includes('tandem')) {
    if (!ctx.quick) runs.push({ target: 'tandem', instances: 1 });
    runs.push({ target: 'tandem', instances: 2 });
    if (!ctx.quick) runs.push({ target: 'tandem', instances: 3 }, { target: 'tandem', instances: 1, workers });
  }
  for (const target of ['hocuspocus', 'hocuspocus-db'] as const) {
    if (!targets.includes(target)) continue;
    if (!ctx.quick) runs.push({ target, instances: 1 });
    runs.push({ target, instances: 2 });
    if (!ctx.quick) runs.push({ target, instances: 3 });
  }
  for (const run of runs) {
    ctx.log(
      `scaleout ${caseLabel(c)} ${run.target} ×${run.instances}${run.workers === undefined ? '' : ` --workers ${run.workers}`}`,
    );
    emit(
      await withDeployment(
        starter(ctx, run.target, `scaleout-${run.target}-${run.instances}`, run.instances, run.workers),
        (d) => runFanoutCase(ctx, d, c, 'scaleout'),
      ),
    );
  }
}

/** Presence: one room of 50 clients moving cursors every 100 ms while 5 of them type (Tandem). */
export async function presenceScenario(ctx: BenchContext, emit: (r: ScenarioResult) => void): Promise<void> {
  const c = ctx.quick
    ? { rooms: 1, clients: 10, intervalMs: 50, typists: 2 }
    : { rooms: 1, clients: 50, intervalMs: 50, typists: 5 };
  ctx.log(`presence ${c.clients} clients, ${c.typists} typing`);
  emit(
    await withDeployment(starter(ctx, 'tandem', 'presence'), (d) =>
      runFanoutCase(
        ctx,
        d,
        { ...c, presenceIntervalMs: 100 },
        'presence',
        `1×${c.clients}, cursors/100ms, ${c.typists} typing/50ms`,
      ),
    ),
  );
}
