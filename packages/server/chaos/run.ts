/**
 * The chaos suite: a cluster of real Tandem processes under a steady edit load, one fault at a
 * time, each followed by recovery and checks (no acknowledged edit lost, clients converged,
 * database equal to the clients, no half-evicted shard). Loopback only; everything it starts
 * (a dedicated redis-server, a PostgreSQL schema and proxy, server processes) is removed at the
 * end, on Ctrl-C and on errors.
 *
 *   npm run chaos -- [--quick] [--only redis-flush,db-outage] [--seconds 20] [--dist] [--logs]
 *
 * Prints a Markdown table, writes it as JSON to bench-results/chaos-<timestamp>.json, and exits
 * non-zero on any loss, divergence or failed check. See docs/operations.md.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllClusters } from './cluster.js';
import { FAULT_NAMES, isFaultName } from './faults.js';
import { MODEL_SCENARIO_EXTRA_MS } from './model.js';
import { formatSummary, formatTable, writeReport } from './report.js';
import { defaultSettings, runChaos } from './suite.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const USAGE = `usage: npm run chaos -- [--quick] [--only <fault,...>] [--seconds N] [--dist]
  --quick        fewer clients and shards, 3 s of load per fault, a 5 s database outage
  --only         run only these faults (${FAULT_NAMES.join(', ')})
  --seconds N    seconds of steady load before each fault (default 10, quick 3)
  --dist         run the servers from the built dist/ instead of the TypeScript sources
  --logs         keep every server's log in bench-results/chaos-<timestamp>-logs/ (always kept on failure)`;

function parse(): ReturnType<typeof defaultSettings> & { hardLimitMs: number; keepLogs: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      dist: { type: 'boolean', default: false },
      logs: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const settings = defaultSettings(values.quick);
  if (values.only !== undefined) {
    const names = values.only
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const unknown = names.filter((n) => !isFaultName(n));
    if (unknown.length > 0 || names.length === 0)
      throw new Error(`unknown fault(s) ${unknown.join(', ')}; choose from ${FAULT_NAMES.join(', ')}`);
    settings.faults = FAULT_NAMES.filter((n) => names.includes(n));
  }
  if (values.seconds !== undefined) {
    const seconds = Number(values.seconds);
    if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600)
      throw new Error('--seconds must be between 1 and 600');
    settings.loadSeconds = seconds;
  }
  if (values.dist) settings.entry = 'dist';
  // A run that hangs is stopped: setup, then per fault its load, the outage and the timeouts.
  const perFaultMs = settings.loadSeconds * 1000 + 90_000;
  const hardLimitMs =
    120_000 +
    settings.faults.length * perFaultMs +
    settings.dbOutageMs +
    settings.flushOutageMs +
    (settings.faults.includes('model') ? MODEL_SCENARIO_EXTRA_MS : 0);
  return { ...settings, hardLimitMs, keepLogs: values.logs };
}

async function main(): Promise<number> {
  const { hardLimitMs, keepLogs, ...settings } = parse();
  const started = performance.now();
  const log = (message: string) =>
    process.stderr.write(`[chaos ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      log(`${signal}: stopping and cleaning up (again to kill at once)`);
      abort.abort(new Error(`interrupted by ${signal}`));
    } else {
      killAllClusters();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllClusters);
  const limit = setTimeout(() => {
    log(`hard time limit of ${Math.round(hardLimitMs / 1000)} s reached; stopping`);
    abort.abort(new Error('time limit reached'));
  }, hardLimitMs);
  limit.unref();

  log(
    `faults: ${settings.faults.join(', ')}; ${settings.clients} clients on ${settings.shards} shards; servers from ${settings.entry}`,
  );
  const outDir = join(REPO_ROOT, 'bench-results');
  let report;
  try {
    report = await runChaos(settings, {
      log,
      signal: abort.signal,
      onLogs: (logs, startedAt, passed) => {
        if (passed && !keepLogs) return;
        const dir = join(outDir, `chaos-${startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}-logs`);
        mkdirSync(dir, { recursive: true });
        for (const { name, output } of logs) writeFileSync(join(dir, `${name.replaceAll('#', '-')}.log`), output);
        log(`server logs written to ${dir}`);
      },
    });
  } catch (error) {
    if (!abort.signal.aborted) throw error;
    const reason: unknown = abort.signal.reason;
    log(`stopped (${reason instanceof Error ? reason.message : String(reason)}); everything the suite started is gone`);
    return 130;
  }
  clearTimeout(limit);
  const file = writeReport(report, outDir);
  process.stdout.write(`\n${formatTable(report.results)}\n\n${formatSummary(report)}\n`);
  log(`results written to ${file}`);
  return report.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos suite failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    killAllClusters();
    process.exit(2);
  },
);
