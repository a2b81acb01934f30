import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { BenchContext } from './context.js';
import type { ScenarioResult } from './results.js';
import { killAll } from './targets/processes.js';
import { coreSplit, type CoreSplit } from './cores.js';
import { fanoutScenario, presenceScenario, scaleoutScenario, type TargetName } from './scenarios/fanout-scenarios.js';
import { idleScenario } from './scenarios/idle.js';
import { joinScenario } from './scenarios/join.js';
import { syncScenario } from './scenarios/sync.js';
import { historyScenario } from './scenarios/history.js';

export const SCENARIOS = ['fanout', 'scaleout', 'presence', 'idle', 'join', 'sync', 'history'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type BenchOptions = {
  scenarios?: ScenarioName[];
  targets?: TargetName[];
  quick?: boolean;
  redisUrl?: string;
  /** Workers for the `serve --workers N` row of scale-out. Default: the number of server cores, at least 2. */
  workers?: number;
  /** The core split (`coreSplit`); default: servers on the lower half of the cores, the generator on the upper. */
  cores?: CoreSplit;
  /** Write V8 CPU profiles of the generator processes here. */
  generatorProfileDir?: string;
  /** Write V8 CPU profiles of the server processes here. */
  profileDir?: string;
  /** Extra environment of every Tandem server (A/B runs of a setting), e.g. { SYNC_THREAD_NICE: '0' }. */
  tandemEnv?: Record<string, string>;
  /** Override the measured window (ms). */
  durationMs?: number;
  /** Only these fan-out cases, e.g. ["1×25×50ms"]. */
  cases?: string[];
  /** The idle scenario's checkpoints, e.g. [1000, 5000]. */
  idleConnections?: number[];
  onResult?: (result: ScenarioResult) => void;
  log?: (line: string) => void;
};

/** Runs the selected scenarios in order and returns one result per case and target. */
export async function runBench(options: BenchOptions = {}): Promise<ScenarioResult[]> {
  const quick = options.quick ?? false;
  const scenarios = options.scenarios ?? [...SCENARIOS];
  const targets = options.targets ?? ['tandem', 'relay', 'hocuspocus', 'hocuspocus-db'];
  const nodeFlags: string[] = [];
  if (options.profileDir !== undefined) {
    mkdirSync(options.profileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
  }
  const cores = options.cores ?? coreSplit({});
  if (options.generatorProfileDir !== undefined) mkdirSync(options.generatorProfileDir, { recursive: true });
  const ctx: BenchContext = {
    redisUrl: options.redisUrl ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    prefix: `bench:${randomUUID().slice(0, 8)}`,
    nodeFlags,
    quick,
    timing: quick
      ? { warmupMs: 1000, durationMs: options.durationMs ?? 3000, drainMs: 15_000 }
      : { warmupMs: 5000, durationMs: options.durationMs ?? 12_000, drainMs: 10_000 },
    profileDir: options.profileDir,
    log: options.log ?? (() => undefined),
    caseFilter: options.cases,
    idleConnections: options.idleConnections,
    cores,
    serverCpus: cores.servers,
    tandemEnv: options.tandemEnv,
    generatorProfileDir: options.generatorProfileDir,
  };
  const results: ScenarioResult[] = [];
  const emit = (r: ScenarioResult) => {
    r.cores = cores;
    results.push(r);
    options.onResult?.(r);
  };
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const scenario of scenarios) {
      switch (scenario) {
        case 'fanout':
          await fanoutScenario(ctx, targets, emit);
          break;
        case 'scaleout':
          await scaleoutScenario(ctx, targets, options.workers ?? Math.max(2, cores.serverCores), emit);
          break;
        case 'presence':
          if (targets.includes('tandem')) await presenceScenario(ctx, emit);
          break;
        case 'idle':
          await idleScenario(ctx, targets, emit);
          break;
        case 'join':
          if (targets.includes('tandem')) await joinScenario(ctx, emit);
          break;
        case 'sync':
          if (targets.includes('tandem')) await syncScenario(ctx, emit);
          break;
        case 'history':
          if (targets.includes('tandem')) await historyScenario(ctx, emit);
          break;
      }
    }
  } finally {
    killAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return results;
}
