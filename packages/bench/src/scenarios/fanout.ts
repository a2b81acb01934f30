import { CpuWindow, redisPid } from '../proc.js';
import { runFanoutGenerators } from '../fanout-generators.js';
import { adminToken, BENCH_JWT_SECRET } from '../targets/jwt.js';
import { createShards, metricValue } from '../targets/tandem-rest.js';
import type { Deployment, TandemDeployment } from '../targets/deployments.js';
import { round } from '../stats.js';
import type { FanoutJob, FanoutResult } from '../generator/jobs.js';
import type { ScenarioResult, ServerUsage } from '../results.js';
import type { BenchContext } from '../context.js';

export type FanoutCase = { rooms: number; clients: number; intervalMs: number };

export function caseLabel(c: FanoutCase): string {
  return `${c.rooms}×${c.clients}×${c.intervalMs}ms`;
}

/** The text the baselines' rooms start with (Tandem's static template index.html is about as long). */
export const SEED_TEXT = `<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="utf-8" />\n    <title>Bench</title>\n  </head>\n  <body>\n${'    <p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n'.repeat(9)}  </body>\n</html>\n`;

/**
 * Runs one fan-out case against a running deployment: creates the rooms, forks a generator,
 * measures server, Redis and generator CPU over the measured window.
 */
export async function runFanoutCase(
  ctx: BenchContext,
  deployment: Deployment,
  fanout: FanoutCase & { typists?: number; presenceIntervalMs?: number },
  scenario: ScenarioResult['scenario'],
  label = caseLabel(fanout),
): Promise<ScenarioResult> {
  const token = adminToken();
  const rooms =
    deployment.kind === 'tandem'
      ? (await createShards(deployment.urls[0]!, token, fanout.rooms)).map((room) => ({ room, path: 'index.html' }))
      : Array.from({ length: fanout.rooms }, (_, i) => ({ room: `bench-${scenario}-${i}` }));
  const job: FanoutJob = {
    kind: 'fanout',
    target: deployment.kind,
    urls: deployment.urls,
    secret: BENCH_JWT_SECRET,
    rooms,
    clientsPerRoom: fanout.clients,
    editIntervalMs: fanout.intervalMs,
    warmupMs: ctx.timing.warmupMs,
    durationMs: ctx.timing.durationMs,
    drainMs: ctx.timing.drainMs,
    connectConcurrency: 32,
    ...(fanout.typists === undefined ? {} : { typistsPerRoom: fanout.typists }),
    ...(fanout.presenceIntervalMs === undefined ? {} : { presenceIntervalMs: fanout.presenceIntervalMs }),
    ...(deployment.kind === 'tandem' ? {} : { seedText: SEED_TEXT }),
  };
  const usesRedis = deployment.kind === 'tandem' || deployment.urls.length > 1;
  const redis = usesRedis ? redisPid(ctx.redisUrl) : null;
  const window = new CpuWindow({
    servers: () => deployment.pids(),
    redis: () => (redis === null ? [] : [redis]),
  });
  let usage: ReturnType<CpuWindow['stop']> | undefined;
  // Tandem's own event-loop delay over the window (prom-client resets its histogram per scrape).
  const metrics = deployment.kind === 'tandem' ? (deployment as TandemDeployment).metrics : undefined;
  let scrape: Promise<string | null> = Promise.resolve(null);
  const generators = {
    processes: ctx.cores.generatorProcesses,
    cores: ctx.cores.generatorCores,
    cpus: ctx.cores.generator,
    profileDir: ctx.generatorProfileDir,
  };
  const result: FanoutResult = await runFanoutGenerators(job, generators, (phase) => {
    if (phase === 'measuring') {
      window.start();
      if (metrics !== undefined) void metrics().catch(() => null);
    } else {
      usage = window.stop();
      if (metrics !== undefined) scrape = metrics().catch(() => null);
    }
  });
  const scraped = await scrape;
  const serverLoop =
    scraped === null
      ? null
      : {
          // prom-client samples every 10 ms and reports the whole interval: the lag is the excess.
          p99Ms: round(
            Math.max(0, (metricValue(scraped, 'tandem_nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000 - 10),
            1,
          ),
          maxMs: round(
            Math.max(0, (metricValue(scraped, 'tandem_nodejs_eventloop_lag_max_seconds') ?? 0) * 1000 - 10),
            1,
          ),
        };
  const u = usage!;
  const server: ServerUsage = {
    cpuSeconds: u.groups['servers']!.cpuSeconds,
    cpuPercent: Math.round((u.groups['servers']!.cpuSeconds / u.wallSeconds) * 100),
    mainThreadCpuPercent: Math.round((u.groups['servers']!.mainThreadCpuSeconds / u.wallSeconds) * 100),
    redisCpuSeconds: redis === null ? null : u.groups['redis']!.cpuSeconds,
    rssMiB: u.groups['servers']!.processes.map((p) => p.rssMiB),
  };
  const totalCpu = server.cpuSeconds + (server.redisCpuSeconds ?? 0);
  const notes: string[] = [];
  if (result.generator.bottleneck) {
    const g = result.generator;
    const where = `${result.generatorProcesses} process(es) on ${ctx.cores.generatorCores} core(s)`;
    // Lagging while using well under its cores: other processes had them (a loaded machine).
    const starved =
      g.cpuPercent < 50 * ctx.cores.generatorCores && (g.processes ?? [g]).every((p) => p.cpuPercent < 85);
    notes.push(
      starved
        ? `generator starved (event-loop p99 ${g.eventLoopDelayP99Ms} ms while it used ${g.cpuPercent}% of a core in ${where}: other processes had its cores): not measured (n/m)`
        : `generator saturated (CPU ${g.cpuPercent}% of a core in ${where}, event-loop p99 ${g.eventLoopDelayP99Ms} ms): not measured (n/m: its latency and CPU per update are the generator's)`,
    );
  }
  if (result.refusedEdits > 0) notes.push(`${result.refusedEdits} edits refused by the server`);
  if (result.disconnects > 0) notes.push(`${result.disconnects} disconnects`);
  if (result.serverStateMatches === false) notes.push('server state differs from the clients');
  if (result.unmatched > 0) notes.push(`${result.unmatched} received items nobody sent`);
  if (result.negativeLatencies > 0) notes.push(`${result.negativeLatencies} deliveries timed before their send`);
  return {
    scenario,
    case: label,
    target: deployment.label,
    ok:
      result.lost === 0 &&
      result.converged &&
      result.serverStateMatches !== false &&
      result.refusedEdits === 0 &&
      result.unmatched === 0 &&
      result.negativeLatencies === 0,
    latency: result.latency,
    deliveriesPerSecond: result.deliveriesPerSecond,
    editsPerSecond: result.editsPerSecond,
    lost: result.lost,
    converged: result.converged,
    server,
    cpuPerUpdateUs: result.delivered === 0 ? null : Math.round((totalCpu * 1e6) / result.delivered),
    generator: result.generator,
    extra: {
      clients: result.clients,
      delivered: result.delivered,
      duplicates: result.duplicates,
      connectMs: result.connectMs,
      windowSeconds: result.windowSeconds,
      generatorProcesses: result.generatorProcesses,
      clockCheckMs: result.clockCheckMs,
      ...(result.presence === null ? {} : { presence: result.presence }),
      ...(result.serverStateMatches === null ? {} : { serverStateMatches: result.serverStateMatches }),
      ...(serverLoop === null ? {} : { serverEventLoopDelay: serverLoop }),
    },
    notes,
  };
}
