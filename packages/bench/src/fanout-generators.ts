import { sharedNow } from './generator/clock.js';
import { mergeDeliveries } from './generator/merge-deliveries.js';
import { GeneratorProcess, type GeneratorOptions } from './generator-process.js';
import { Samples, summarize } from './stats.js';
import type { FanoutJob, FanoutPartResult, FanoutResult, FanoutStep, GeneratorUsage } from './generator/jobs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's own CPU at this share of a core, or all of them at this share of their cores: saturated. */
const SATURATED_SHARE = 0.85;

/**
 * Checks each generator's shared clock against this process's: the value it reports must fall
 * between the moments the question left and the answer came back. Returns the widest such round
 * trip (the bound on any disagreement), in ms; throws when a clock falls outside.
 */
async function checkClocks(generators: GeneratorProcess[]): Promise<number> {
  let widest = 0;
  for (const g of generators) {
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const before = sharedNow();
      const theirs = await g.clock();
      const after = sharedNow();
      if (theirs < before || theirs > after) {
        throw new Error(`generator ${g.pid}: its clock (${theirs}) is outside [${before}, ${after}]: not one clock`);
      }
      best = Math.min(best, after - before);
    }
    widest = Math.max(widest, best);
  }
  return Math.round(widest * 1000) / 1000;
}

/** Sums the processes' usage: CPU adds up, event-loop delay and saturation are the worst one's. */
function mergeUsage(parts: GeneratorUsage[], cores: number): GeneratorUsage {
  const cpuPercent = parts.reduce((n, p) => n + p.cpuPercent, 0);
  return {
    cpuSeconds: Math.round(parts.reduce((n, p) => n + p.cpuSeconds, 0) * 100) / 100,
    cpuPercent,
    eventLoopDelayP99Ms: Math.max(...parts.map((p) => p.eventLoopDelayP99Ms)),
    eventLoopDelayMaxMs: Math.max(...parts.map((p) => p.eventLoopDelayMaxMs)),
    rssMiB: parts.reduce((n, p) => n + p.rssMiB, 0),
    bottleneck: parts.some((p) => p.bottleneck) || cpuPercent >= SATURATED_SHARE * 100 * cores,
    ...(parts.length > 1 ? { processes: parts } : {}),
  };
}

/**
 * Runs a fan-out job over `processes` generator processes (clients split by `partOf`), step by
 * step on all of them, and merges what they report: deliveries matched by item id across
 * processes, latency on the shared clock, convergence over every process's clients of a room.
 * `onPhase` sees the start and end of the measured window (the servers' CPU is taken there).
 */
export async function runFanoutGenerators(
  job: FanoutJob,
  options: GeneratorOptions & { processes: number; cores: number },
  onPhase: (phase: 'measuring' | 'draining') => void,
): Promise<FanoutResult> {
  const count = Math.max(1, options.processes);
  const generators = Array.from({ length: count }, () => new GeneratorProcess(options));
  const all = <T>(step: FanoutStep) => Promise.all(generators.map((g) => g.step(step) as Promise<T>));
  try {
    await Promise.all(generators.map((g) => g.started()));
    const clockCheckMs = await checkClocks(generators);
    const perProcess = { ...job, connectConcurrency: Math.max(1, Math.ceil(job.connectConcurrency / count)) };
    await Promise.all(generators.map((g, index) => g.fanout(perProcess, { index, count })));
    // First client of each room (and the seed), then everyone else.
    await all('connect-first');
    if (job.seedText !== undefined) await sleep(300);
    await all('connect-rest');
    await all('type');
    await sleep(job.warmupMs);
    await all('measure');
    onPhase('measuring');
    const windowStart = sharedNow();
    await sleep(job.durationMs);
    const usages = await all<GeneratorUsage>('stop');
    const windowSeconds = (sharedNow() - windowStart) / 1000;
    onPhase('draining');

    const drainDeadline = Date.now() + job.drainMs;
    for (;;) {
      const progress = await all<{ expected: number; received: number }>('progress');
      const outstanding = progress.reduce((n, p) => n + p.expected - p.received, 0);
      if (outstanding <= 0 || Date.now() >= drainDeadline) break;
      await sleep(50);
    }
    const parts = await all<FanoutPartResult>('finish');
    return mergeParts(job, parts, mergeUsage(usages, options.cores), windowSeconds, clockCheckMs, count);
  } finally {
    for (const g of generators) g.stop();
  }
}

function mergeParts(
  job: FanoutJob,
  parts: FanoutPartResult[],
  generator: GeneratorUsage,
  windowSeconds: number,
  clockCheckMs: number,
  processes: number,
): FanoutResult {
  const d = mergeDeliveries(parts.map((p) => p.records));
  // Presence: per awareness entry, matched by (client, clock) across processes.
  const presenceSent = new Map<number, { t: number; measured: boolean }>();
  for (const p of parts) {
    const s = p.presence.sent;
    for (let i = 0; i < s.keys.length; i++)
      presenceSent.set(s.keys[i]!, { t: s.times[i]!, measured: s.measured[i] === 1 });
  }
  const presenceLatency = new Samples();
  for (const p of parts) {
    const r = p.presence.received;
    for (let i = 0; i < r.keys.length; i++) {
      const sent = presenceSent.get(r.keys[i]!);
      if (sent?.measured === true) presenceLatency.add(r.times[i]! - sent.t);
    }
  }
  const texts = new Map<number, Set<string>>();
  for (const p of parts) {
    for (const { room, texts: t } of p.rooms) {
      const set = texts.get(room) ?? new Set<string>();
      for (const x of t) set.add(x);
      texts.set(room, set);
    }
  }
  const divergentRooms = [...texts.values()].filter((s) => s.size !== 1).length;
  const checked = parts.map((p) => p.serverStateMatches).filter((x) => x !== null);
  const presenceMessages = parts.reduce((n, p) => n + p.presence.messages, 0);
  const presenceBytes = parts.reduce((n, p) => n + p.presence.bytes, 0);
  const clients = parts.reduce((n, p) => n + p.clients, 0);
  return {
    kind: 'fanout',
    clients,
    windowSeconds: Math.round(windowSeconds * 100) / 100,
    editsSent: d.sentMeasured,
    editsPerSecond: Math.round(d.sentMeasured / windowSeconds),
    deliveriesExpected: d.expectedMeasured,
    delivered: d.deliveredMeasured,
    deliveriesPerSecond: Math.round(d.deliveredMeasured / windowSeconds),
    lost: d.expectedMeasured - d.deliveredMeasured,
    duplicates: d.duplicates,
    latency: d.latency.summary(),
    presence:
      job.presenceIntervalMs === undefined
        ? null
        : {
            ...presenceLatency.summary(),
            messagesPerSecond: Math.round(presenceMessages / windowSeconds),
            bytesPerSecond: Math.round(presenceBytes / windowSeconds),
          },
    converged: divergentRooms === 0 && texts.size === job.rooms.length,
    divergentRooms,
    serverStateMatches: job.target === 'tandem' ? checked.every(Boolean) && checked.length > 0 : null,
    refusedEdits: parts.reduce((n, p) => n + p.refusedEdits, 0),
    disconnects: parts.reduce((n, p) => n + p.disconnects, 0),
    connectMs: summarize(parts.flatMap((p) => p.connectMs)),
    generator: {
      ...generator,
      usPerDelivery: d.deliveredMeasured === 0 ? 0 : Math.round((generator.cpuSeconds * 1e6) / d.deliveredMeasured),
    },
    generatorProcesses: processes,
    unmatched: d.unmatched,
    negativeLatencies: d.negative,
    clockCheckMs,
  };
}
