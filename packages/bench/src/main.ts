/**
 * `npm run bench [-- --quick] [--scenario fanout,scaleout,presence,idle,join,sync,history]
 *  [--target tandem,relay,hocuspocus,hocuspocus-db] [--workers N] [--profile DIR] [--duration MS] [--cases 1x25x50ms,...] [--connections 1000,5000] [--out DIR] [--docs]
 *  [--server-cores LIST|all] [--generator-cores LIST|all] [--generators N] [--generator-profile DIR] [--tandem-env K=V,...]`
 *
 * Starts every server it measures on 127.0.0.1 (Tandem from packages/server/dist, the
 * y-websocket relay, Hocuspocus), drives them from forked generator processes, prints one JSON
 * line per case and a Markdown table, writes both under bench-results/, and with --docs (the
 * default for a full run) replaces the results block of docs/benchmarks.md. Kills everything it
 * started, also on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runBench, SCENARIOS, type ScenarioName } from './run-bench.js';
import { machineDescription, markdownTable } from './report.js';
import { coreSplit, describeSplit } from './cores.js';
import { REPO_ROOT } from './targets/processes.js';
import type { TargetName } from './scenarios/fanout-scenarios.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string' },
    target: { type: 'string' },
    workers: { type: 'string' },
    profile: { type: 'string' },
    duration: { type: 'string' },
    out: { type: 'string' },
    docs: { type: 'boolean' },
    cases: { type: 'string' },
    connections: { type: 'string' },
    'server-cores': { type: 'string' },
    'generator-cores': { type: 'string' },
    generators: { type: 'string' },
    'generator-profile': { type: 'string' },
    'tandem-env': { type: 'string' },
  },
  strict: true,
});

const scenarios = values.scenario === undefined ? [...SCENARIOS] : (values.scenario.split(',') as ScenarioName[]);
for (const s of scenarios)
  if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (use ${SCENARIOS.join(',')})`);
const targets = values.target === undefined ? undefined : (values.target.split(',') as TargetName[]);
if (!existsSync(join(REPO_ROOT, 'packages/server/dist/main.js'))) {
  throw new Error('packages/server/dist is missing: run `npm run build` (npm run bench builds the server first)');
}

const cores = coreSplit({
  ...(values['server-cores'] === undefined ? {} : { servers: values['server-cores'] }),
  ...(values['generator-cores'] === undefined ? {} : { generator: values['generator-cores'] }),
  ...(values.generators === undefined ? {} : { processes: Number(values.generators) }),
});
const tandemEnv =
  values['tandem-env'] === undefined
    ? undefined
    : Object.fromEntries(
        values['tandem-env'].split(',').map((pair) => {
          const eq = pair.indexOf('=');
          if (eq <= 0) throw new Error(`--tandem-env takes KEY=VALUE pairs separated by commas, not "${pair}"`);
          return [pair.slice(0, eq), pair.slice(eq + 1)];
        }),
      );
const load = loadavg();
const started = new Date();
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const results = await runBench({
  scenarios,
  quick: values.quick,
  cores,
  ...(values['generator-profile'] === undefined ? {} : { generatorProfileDir: values['generator-profile'] }),
  ...(targets === undefined ? {} : { targets }),
  ...(values.workers === undefined ? {} : { workers: Number(values.workers) }),
  ...(values.profile === undefined ? {} : { profileDir: values.profile }),
  ...(tandemEnv === undefined ? {} : { tandemEnv }),
  ...(values.duration === undefined ? {} : { durationMs: Number(values.duration) }),
  ...(values.cases === undefined ? {} : { cases: values.cases.replaceAll('x', '×').split(',') }),
  ...(values.connections === undefined ? {} : { idleConnections: values.connections.split(',').map(Number) }),
  onResult: (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  log: (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
});

const machine = machineDescription(load);
const table = markdownTable(results);
const minutes = Math.round((Date.now() - started.getTime()) / 6000) / 10;
const block = [
  `Run ${started.toISOString()} (${minutes} min): \`${command}\``,
  '',
  `Machine: ${machine}.`,
  '',
  `Cores: ${describeSplit(cores)}.`,
  '',
  table,
].join('\n');
process.stdout.write(`\n${block}\n`);

const outDir = values.out ?? join(REPO_ROOT, 'bench-results');
mkdirSync(outDir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, '-');
writeFileSync(join(outDir, `${stamp}.jsonl`), results.map((r) => JSON.stringify(r)).join('\n') + '\n');
writeFileSync(join(outDir, `${stamp}.md`), `${block}\n`);

if (values.docs ?? (!values.quick && values.scenario === undefined)) {
  const docPath = join(REPO_ROOT, 'docs/benchmarks.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : `# Benchmarks\n\n${start}\n${end}\n`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i !== -1 && j > i) {
    writeFileSync(docPath, `${doc.slice(0, i + start.length)}\n${block}\n${doc.slice(j)}`);
    process.stderr.write(`updated ${docPath}\n`);
  }
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
