import type { BenchEnv } from './targets/deployments.js';
import type { CoreSplit } from './cores.js';

/** What every scenario gets: where Redis is, the run's key prefix, timings, quick mode. */
export type BenchContext = BenchEnv & {
  quick: boolean;
  timing: { warmupMs: number; durationMs: number; drainMs: number };
  /** Where server CPU profiles go (--profile), else undefined. */
  profileDir: string | undefined;
  log: (line: string) => void;
  /** Only these fan-out cases (labels such as "1×25×50ms"); all when undefined. */
  caseFilter: string[] | undefined;
  /** The idle scenario's checkpoints (open connections), when not the default. */
  idleConnections?: number[] | undefined;
  /** Which cores the servers and the generator run on, and how many generator processes. */
  cores: CoreSplit;
  /** Write V8 CPU profiles of the generator processes here (--generator-profile), else undefined. */
  generatorProfileDir: string | undefined;
};
