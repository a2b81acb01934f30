import type { LatencySummary } from './stats.js';
import type { GeneratorUsage } from './generator/jobs.js';
import type { CoreSplit } from './cores.js';

/** Server-side resources over a measured window. */
export type ServerUsage = {
  /** CPU seconds of every server process (cluster workers included). */
  cpuSeconds: number;
  /** Of one core, averaged over the window. */
  cpuPercent: number;
  /** Of cpuPercent, the servers' main threads (event loops); the rest is worker threads (Tandem's sync jobs), GC helpers, libuv. */
  mainThreadCpuPercent: number;
  /** CPU seconds of the Redis server over the window, when the target uses Redis. */
  redisCpuSeconds: number | null;
  /** RSS of each server process at the end of the window. */
  rssMiB: number[];
};

/** One JSON line of output: one scenario case against one target. */
export type ScenarioResult = {
  scenario: 'fanout' | 'scaleout' | 'presence' | 'idle' | 'join' | 'sync' | 'history';
  case: string;
  target: string;
  /** No lost updates and converged (where that applies). */
  ok: boolean;
  latency?: LatencySummary;
  deliveriesPerSecond?: number;
  editsPerSecond?: number;
  lost?: number;
  converged?: boolean;
  server?: ServerUsage;
  /** (server + Redis CPU) per delivered update, in µs. */
  cpuPerUpdateUs?: number | null;
  generator?: GeneratorUsage;
  /** The cores the servers and the generator were pinned to (Redis is not pinned). */
  cores?: CoreSplit;
  /** Scenario-specific figures. */
  extra?: Record<string, unknown>;
  notes?: string[];
};
