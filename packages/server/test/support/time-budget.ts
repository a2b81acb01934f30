import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { Config } from '../../src/config/index.js';

/**
 * Time bounds for tests that wait on real processes, Redis, BullMQ and the database.
 *
 * A bound is what the awaited thing needs on an idle machine — derived from the configuration
 * that drives it (member TTL, scan interval, lock durations) where there is one — times a safety
 * margin, times how loaded the machine is right now. A CI runner at load 9 on 2 cores gets
 * proportionally longer; an idle laptop still fails fast. Use these for bounds on *liveness*
 * ("eventually evicted", "the server started"); never for a latency the product promises
 * (those stay literal numbers in the test).
 */

/** Never stretch a bound more than this (a hung test must still fail in bounded time). */
const MAX_SLOWDOWN = 8;
/** Margin over the idle-machine estimate: scheduling jitter, GC, a slow first import. */
const SAFETY = 2;

/**
 * How many times slower than on an idle machine things run now: runnable tasks per core, from
 * the larger of the 1-minute load average and (Linux) the tasks runnable at this instant — the
 * load average lags a minute behind a burst. Between 1 and MAX_SLOWDOWN; TEST_SLOWDOWN=<n>
 * overrides it (e.g. on a runner whose load average says nothing).
 */
export function machineSlowdown(): number {
  const override = Number(process.env['TEST_SLOWDOWN']);
  if (Number.isFinite(override) && override >= 1) return override;
  const perCore = Math.max(loadavg()[0] ?? 0, runnableNow()) / availableParallelism();
  return Math.min(MAX_SLOWDOWN, Math.max(1, perCore));
}

/** Other tasks runnable at this instant (the 4th field of /proc/loadavg, minus this one); 0 off Linux. */
function runnableNow(): number {
  let text: string;
  try {
    text = readFileSync('/proc/loadavg', 'utf8');
  } catch {
    // Not Linux: the load average alone has to do.
    return 0;
  }
  const running = Number(text.split(' ')[3]?.split('/')[0]);
  return Number.isFinite(running) ? Math.max(0, running - 1) : 0;
}

/**
 * A bound for something that takes about `idleMs` on an idle machine: idleMs × safety margin ×
 * machineSlowdown(), evaluated now. Never less than `idleMs × 2`.
 */
export function budgetMs(idleMs: number): number {
  return Math.ceil(idleMs * SAFETY * machineSlowdown());
}

/** Idle-machine time to start a server process from the TypeScript sources (tsx, migrations, listen). */
export const SERVER_START_IDLE_MS = 8_000;

/** Bound for a server process (or `workers` cluster workers of one) to start listening. */
export function serverStartBudgetMs(workers = 1): number {
  return budgetMs(SERVER_START_IDLE_MS * Math.max(1, workers));
}

/** Idle-machine time of one sync job: a worker thread picks it up (its first job loads the processor) and writes. */
const SYNC_JOB_IDLE_MS = 5_000;

/**
 * Bound for edits to reach the database through the scheduler and the BullMQ worker: the next
 * scan, the limiter window if the limiter is saturated, and one job (plus one retry backoff).
 */
export function syncBudgetMs(config: Config): number {
  const { intervalMs, backoffMs } = config.jobs;
  return budgetMs(2 * intervalMs + backoffMs + SYNC_JOB_IDLE_MS);
}

/** Bound for a shard everyone left to be flushed and evicted: the grace period, the next scan, one job. */
export function evictBudgetMs(config: Config): number {
  return budgetMs(config.cache.evictGraceMs + 2 * config.jobs.intervalMs + SYNC_JOB_IDLE_MS);
}

/**
 * Bound for the sweep of a shard whose only instance died: the dead instance's heartbeat entry
 * lapses (its member TTL plus one heartbeat interval: by then all its members have expired), the
 * scanner notices on its next tick, scans every open shard and waits the evict grace, a sync job
 * the dead instance's worker held is found stalled (its lock expires, then the next stalled
 * check), and the flush-and-evict job runs.
 */
export function deadInstanceSweepBudgetMs(dead: Config, scanner: Config): number {
  return budgetMs(
    dead.cache.memberTtlMs +
      dead.cache.heartbeatMs +
      2 * scanner.jobs.intervalMs +
      scanner.cache.evictGraceMs +
      dead.jobs.lockDurationMs +
      scanner.jobs.stalledIntervalMs +
      2 * SYNC_JOB_IDLE_MS,
  );
}
