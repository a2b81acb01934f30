import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import type { ScenarioResult } from './results.js';

const dash = '–';
const num = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? dash : v.toFixed(digits).replace(/\.0+$/, '');

/** The Markdown table of a run: one row per scenario case and target. */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const head =
    '| scenario | case | target | ok | p50 ms | p90 ms | p99 ms | max ms | delivered/s | lost | server CPU % (main) | Redis CPU s | CPU µs/update | server RSS MiB | generator CPU % | notes |';
  const rule = '|' + ' --- |'.repeat(16);
  const rows = results.map((r) => {
    const l = r.latency;
    const saturated = r.generator?.bottleneck === true;
    const flag = saturated ? ' ⚠' : '';
    // A case whose generator saturated measured the generator: its timings are not reported.
    const timed = (v: number | null | undefined, digits = 1) => (saturated && v != null ? 'n/m' : num(v, digits));
    return `| ${r.scenario} | ${r.case} | ${r.target} | ${r.ok ? 'yes' : '**no**'} | ${timed(l?.p50Ms)} | ${timed(l?.p90Ms)} | ${timed(l?.p99Ms)} | ${timed(l?.maxMs)} | ${num(r.deliveriesPerSecond, 0)} | ${num(r.lost, 0)} | ${r.server === undefined ? dash : `${r.server.cpuPercent} (${r.server.mainThreadCpuPercent})`} | ${num(r.server?.redisCpuSeconds, 2)} | ${timed(r.cpuPerUpdateUs, 0)} | ${r.server?.rssMiB.join('+') ?? dash} | ${r.generator === undefined ? dash : `${generatorCpu(r.generator)}${flag}`} | ${describeExtra(r)} |`;
  });
  return [head, rule, ...rows].join('\n');
}

/** The generator's CPU, % of one core: the sum, and each process's when there are several. */
function generatorCpu(g: NonNullable<ScenarioResult['generator']>): string {
  return g.processes === undefined
    ? String(g.cpuPercent)
    : `${g.cpuPercent} (${g.processes.map((p) => p.cpuPercent).join('+')})`;
}

/** The scenario-specific figures, short. */
function describeExtra(r: ScenarioResult): string {
  const e = r.extra ?? {};
  const parts: string[] = [];
  if (r.scenario === 'idle') {
    parts.push(
      `RSS ${(e['serverRssMiB'] as number[]).join('→')} MiB`,
      `${String(e['serverKiBPerAddedConnection'])} KiB/added conn`,
      `connect p50/p99 ${fmtLatency(e['connectMs'])}`,
      `all in ${String(e['connectAllSeconds'])} s`,
    );
    if (e['joinsPerSecond'] !== undefined)
      parts.push(`connect + join ${(e['joinsPerSecond'] as number[]).join(', ')} /s per step`);
    if (e['redisKiBPerAddedConnection'] !== undefined)
      parts.push(`Redis ${String(e['redisKiBPerAddedConnection'])} KiB/added conn`);
    for (const w of (e['idle'] ?? []) as Array<{
      connections: number;
      cpuPercent: number;
      serverCpuPercent: number;
      redisCpuPercent: number | null;
      redisCommandsPerSecond: number | null;
      redisLuaCommandsPerSecond: number | null;
    }>) {
      parts.push(
        `idle at ${w.connections}: CPU ${w.cpuPercent} % (server ${w.serverCpuPercent}${w.redisCpuPercent === null ? '' : `, Redis ${w.redisCpuPercent}`})${w.redisCommandsPerSecond === null ? '' : `, ${w.redisCommandsPerSecond} Redis cmd/s + ${String(w.redisLuaCommandsPerSecond)} in Lua`}`,
      );
    }
  }
  if (e['presence'] !== undefined) {
    const p = e['presence'] as { p50Ms: number; p99Ms: number; messagesPerSecond: number; bytesPerSecond: number };
    parts.push(
      `presence p50 ${num(p.p50Ms)} / p99 ${num(p.p99Ms)} ms, ${p.messagesPerSecond} msg/s, ${Math.round(p.bytesPerSecond / 1024)} KiB/s in`,
    );
  }
  if (e['serverEventLoopDelay'] !== undefined) {
    const d = e['serverEventLoopDelay'] as { p99Ms: number; maxMs: number };
    parts.push(`server event-loop delay p99 ${d.p99Ms} / max ${d.maxMs} ms`);
  }
  if (typeof e['summary'] === 'string') parts.push(e['summary']);
  if (r.generator?.usPerDelivery !== undefined) parts.push(`generator ${r.generator.usPerDelivery} µs/delivery`);
  for (const n of r.notes ?? []) parts.push(n);
  return parts.join('; ').replaceAll('|', '/');
}

function fmtLatency(v: unknown): string {
  const list = (Array.isArray(v) ? v : [v]) as Array<{ p50Ms: number | null; p99Ms: number | null }>;
  return list.map((s) => `${num(s.p50Ms)}/${num(s.p99Ms)}`).join(', ');
}

/** nproc, CPU model, memory, Node and Redis versions, and the load average when the run started. */
export function machineDescription(loadAtStart: number[]): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  let redis = 'unknown';
  try {
    redis = /redis_version:(\S+)/.exec(execFileSync('redis-cli', ['info', 'server']).toString())?.[1] ?? redis;
  } catch {
    // No redis-cli on PATH.
  }
  return `${cpus().length} cores (nproc), ${model}, ${Math.round(totalmem() / 1024 ** 3)} GiB memory, Node ${process.version}, Redis ${redis}, load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`;
}
