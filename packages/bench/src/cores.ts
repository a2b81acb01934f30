import { availableParallelism } from 'node:os';

/**
 * How the machine's cores are split between the measured servers and the load generator. Both
 * sides are pinned with `taskset` (util-linux), every thread of every process they start.
 * Redis is the machine's shared service: the bench does not pin it (other clients use it too);
 * it runs wherever the kernel puts it and its CPU counts with the servers'.
 */
export type CoreSplit = {
  /** `taskset -c` list for server processes; undefined: not pinned (all cores). */
  servers: string | undefined;
  /** `taskset -c` list for generator processes; undefined: not pinned (all cores). */
  generator: string | undefined;
  /** Cores each side may use. */
  serverCores: number;
  generatorCores: number;
  /** Generator processes per fan-out case (default: one per generator core). */
  generatorProcesses: number;
};

/** `0-3,6` → [0, 1, 2, 3, 6]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map((x) => Number(x.trim()));
    if (a === undefined || !Number.isInteger(a) || a < 0 || (b !== undefined && (!Number.isInteger(b) || b < a))) {
      throw new Error(`bad CPU list "${list}" (use e.g. 0 or 0-3 or 0,2)`);
    }
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return [...new Set(out)];
}

/**
 * The split: given lists win (`all` = not pinned); by default the generator gets the upper half
 * of the cores (at least one) and the servers the rest, one generator process per generator core.
 * A single-core machine cannot be split: nothing is pinned.
 */
export function coreSplit(
  options: { servers?: string; generator?: string; processes?: number },
  cores = availableParallelism(),
): CoreSplit {
  const every = Array.from({ length: cores }, (_, i) => i);
  const listOf = (cpus: number[]) => cpus.join(',');
  const given = (v: string | undefined) => (v === undefined || v === 'all' ? undefined : parseCpuList(v));
  let servers = given(options.servers);
  let generator = given(options.generator);
  if (cores > 1 && options.servers === undefined && options.generator === undefined) {
    const g = Math.max(1, Math.floor(cores / 2));
    generator = every.slice(cores - g);
    servers = every.slice(0, cores - g);
  } else if (options.servers === undefined && generator !== undefined) {
    const rest = every.filter((c) => !generator!.includes(c));
    servers = rest.length > 0 ? rest : undefined;
  } else if (options.generator === undefined && servers !== undefined) {
    const rest = every.filter((c) => !servers!.includes(c));
    generator = rest.length > 0 ? rest : undefined;
  }
  const generatorCores = generator?.length ?? cores;
  return {
    servers: servers === undefined ? undefined : listOf(servers),
    generator: generator === undefined ? undefined : listOf(generator),
    serverCores: servers?.length ?? cores,
    generatorCores,
    generatorProcesses: options.processes ?? generatorCores,
  };
}

/** One line for the report: who runs where. */
export function describeSplit(split: CoreSplit): string {
  const where = (list: string | undefined) => (list === undefined ? 'all cores (not pinned)' : `CPU ${list}`);
  return `servers on ${where(split.servers)}, load generator on ${where(split.generator)} (${split.generatorProcesses} process${split.generatorProcesses === 1 ? '' : 'es'}), Redis not pinned (the machine's shared service)`;
}
