/**
 * verify:templates — proves every template of the catalogue installs and builds for real.
 *
 * For each template: copy its files into a fresh temp folder, `npm install` its pinned packages from
 * the npm registry, then run its real build (`npm run build`: vite build, next build, ng build). A
 * template without a build script (static, node) gets `node --check` on its JavaScript files.
 * A template whose `requires.node` range excludes the running Node is SKIPPED with that reason.
 *
 * Usage: npm run verify:templates -- [--only id,id] [--jobs 2] [--step-timeout-seconds 900] [--keep]
 * Prints a Markdown table and exits 1 when any template that was not skipped failed.
 * Child processes run with the same Node as this script (its folder goes first on PATH), so running
 * the script under a newer Node also builds the templates that need one.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTemplateRegistry, type ProjectTemplate } from '../src/templates/index.js';

type StepStatus = 'ok' | 'FAILED' | 'SKIPPED' | 'TIMEOUT' | '—';

type Row = {
  id: string;
  install: StepStatus;
  build: StepStatus;
  seconds: number;
  note: string;
  failed: boolean;
};

type StepResult = { code: number | null; timedOut: boolean; output: string; seconds: number };

const OUTPUT_TAIL_CHARS = 64 * 1024;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    jobs: { type: 'string', default: '2' },
    'step-timeout-seconds': { type: 'string', default: '900' },
    keep: { type: 'boolean', default: false },
  },
});

// Two cores: more than two parallel installs/builds only thrash.
const jobs = Math.max(1, Math.min(2, Number.parseInt(args.jobs, 10) || 2));
const stepTimeoutMs = Math.max(10, Number.parseInt(args['step-timeout-seconds'], 10) || 900) * 1000;
const activeChildren = new Set<number>();
const activeDirs = new Set<string>();

async function main(): Promise<number> {
  const registry = createTemplateRegistry();
  const all = registry.list().map((summary) => summary.id);
  const only = args.only
    ?.split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const unknown = (only ?? []).filter((id) => !all.includes(id));
  if (unknown.length > 0) {
    console.error(`unknown template id(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
    return 2;
  }
  const ids = only ?? all;
  console.error(`verifying ${ids.length} template(s) with Node ${process.version}, ${jobs} at a time…`);

  const rows = new Map<string, Row>();
  const queue = [...ids];
  const worker = async (): Promise<void> => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const template = registry.get(id);
      if (template === undefined) continue;
      const row = await verifyTemplate(template);
      rows.set(id, row);
      console.error(`${row.failed ? '✗' : '✓'} ${id}: install ${row.install}, build ${row.build} (${row.seconds}s)`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, ids.length) }, worker));

  const ordered = ids.flatMap((id) => rows.get(id) ?? []);
  console.log(renderTable(ordered));
  return ordered.some((row) => row.failed) ? 1 : 0;
}

async function verifyTemplate(template: ProjectTemplate): Promise<Row> {
  const started = Date.now();
  const row: Row = { id: template.id, install: '—', build: '—', seconds: 0, note: '', failed: false };
  const finish = (): Row => ({ ...row, seconds: Math.round((Date.now() - started) / 1000) });

  const nodeRange = template.requires?.node;
  if (nodeRange !== undefined && !satisfiesNodeRange(process.versions.node, nodeRange)) {
    row.install = 'SKIPPED';
    row.build = 'SKIPPED';
    row.note = `needs Node ${nodeRange}; this is Node ${process.versions.node}`;
    return finish();
  }

  const dir = await mkdtemp(join(tmpdir(), `tandem-verify-${template.id}-`));
  activeDirs.add(dir);
  try {
    await writeTemplate(template, dir);
    const packageJson = template.files['package.json'];
    const scripts = packageJson === undefined ? {} : readScripts(packageJson.content);

    if (packageJson !== undefined) {
      const install = await runStep('npm', ['install', '--no-audit', '--no-fund'], dir);
      row.install = statusOf(install);
      if (row.install !== 'ok') {
        row.failed = true;
        row.note = `npm install ${describeFailure(install)}`;
        report(template.id, 'npm install', install);
        return finish();
      }
      const blocked = await blockedInstallScripts(dir);
      if (blocked.length > 0) row.note = `install scripts not run (npm default): ${blocked.join(', ')}; `;
    }

    if (scripts.build !== undefined) {
      const build = await runStep('npm', ['run', 'build'], dir);
      row.build = statusOf(build);
      if (row.build !== 'ok') {
        row.failed = true;
        row.note += `npm run build ${describeFailure(build)}`;
        report(template.id, 'npm run build', build);
        return finish();
      }
      row.note += await describeBuildOutput(template, dir, build.seconds);
      return finish();
    }

    const sources = Object.keys(template.files).filter((path) => /\.(?:c|m)?js$/.test(path));
    for (const path of sources) {
      const check = await runStep(process.execPath, ['--check', path], dir);
      if (statusOf(check) !== 'ok') {
        row.build = statusOf(check);
        row.failed = true;
        row.note += `node --check ${path} ${describeFailure(check)}`;
        report(template.id, `node --check ${path}`, check);
        return finish();
      }
    }
    row.build = 'ok';
    row.note += `no build step; node --check passed for ${sources.join(', ') || 'no JavaScript files'}`;
    return finish();
  } finally {
    if (args.keep) {
      console.error(`  kept ${template.id} in ${dir}`);
    } else {
      await rm(dir, { recursive: true, force: true });
    }
    activeDirs.delete(dir);
  }
}

async function writeTemplate(template: ProjectTemplate, dir: string): Promise<void> {
  for (const [path, file] of Object.entries(template.files)) {
    const target = join(dir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.encoding === 'base64' ? Buffer.from(file.content, 'base64') : file.content);
  }
}

function readScripts(packageJsonText: string): Record<string, string> {
  const pkg: unknown = JSON.parse(packageJsonText);
  if (typeof pkg !== 'object' || pkg === null || !('scripts' in pkg)) return {};
  const scripts: unknown = pkg.scripts;
  if (typeof scripts !== 'object' || scripts === null) return {};
  return Object.fromEntries(Object.entries(scripts).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Packages whose install scripts npm 11 left unrun (it blocks them unless package.json allows them). */
async function blockedInstallScripts(dir: string): Promise<string[]> {
  const result = await runStep('npm', ['install-scripts', 'ls', '--json'], dir);
  if (result.code !== 0) return [];
  try {
    // npm 11 prints { "allowScripts": [ …unreviewed packages… ] }.
    const parsed: unknown = JSON.parse(result.output.slice(result.output.indexOf('{')) || '{}');
    const list: unknown =
      typeof parsed === 'object' && parsed !== null && 'allowScripts' in parsed ? parsed.allowScripts : parsed;
    if (Array.isArray(list)) return list.map((entry) => describeEntry(entry));
  } catch (error) {
    // Older npm prints text here; not knowing which scripts were skipped only loses a note.
    if (!(error instanceof SyntaxError)) throw error;
  }
  return [];
}

function describeEntry(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  if (typeof entry === 'object' && entry !== null && 'name' in entry && typeof entry.name === 'string') {
    return entry.name;
  }
  return JSON.stringify(entry);
}

async function describeBuildOutput(template: ProjectTemplate, dir: string, seconds: number): Promise<string> {
  for (const [folder, marker] of [
    ['dist', 'index.html'],
    ['.next', 'BUILD_ID'],
  ] as const) {
    if (!existsSync(join(dir, folder))) continue;
    const found = existsSync(join(dir, folder, marker)) || (await containsFile(join(dir, folder), marker));
    if (!found) return `build wrote ${folder}/ but no ${marker} in it`;
    return `${folder}/ written (build ${seconds}s)`;
  }
  return `build passed (${template.runtime} runtime)`;
}

async function containsFile(root: string, name: string): Promise<boolean> {
  const entries = await readdir(root, { recursive: true });
  return entries.some((entry) => entry === name || entry.endsWith(`/${name}`));
}

function statusOf(result: StepResult): StepStatus {
  if (result.timedOut) return 'TIMEOUT';
  return result.code === 0 ? 'ok' : 'FAILED';
}

function describeFailure(result: StepResult): string {
  if (result.timedOut) return `timed out after ${stepTimeoutMs / 1000}s`;
  const lastLine =
    result.output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('npm error A complete log'))
      .at(-1) ?? '';
  return `exited ${result.code}: ${lastLine.slice(0, 200)}`;
}

function report(id: string, step: string, result: StepResult): void {
  const tail = result.output.split('\n').slice(-40).join('\n');
  console.error(`\n--- ${id}: ${step} failed; last lines ---\n${tail}\n--- end ${id} ---\n`);
}

/** Runs a command in its own process group with the step timeout; kills the whole group on timeout. */
function runStep(command: string, argv: string[], cwd: string): Promise<StepResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd, env: childEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const append = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, stepTimeoutMs);
    if (child.pid !== undefined) activeChildren.add(child.pid);
    const done = (code: number | null): void => {
      clearTimeout(timer);
      if (child.pid !== undefined) activeChildren.delete(child.pid);
      resolve({ code, timedOut, output, seconds: Math.round((Date.now() - started) / 1000) });
    };
    child.on('error', (error) => {
      append(Buffer.from(`\n${error.message}\n`));
      done(null);
    });
    child.on('close', (code) => done(code));
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group already exited between the timeout firing and the kill.
    if (!(error instanceof Error && 'code' in error && error.code === 'ESRCH')) throw error;
  }
}

/**
 * The environment of every step: this Node first on PATH, npm settings inherited from an outer
 * `npm run` removed (they describe the monorepo, not the temp project), telemetry and prompts off.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  env.CI = '1';
  env.NEXT_TELEMETRY_DISABLED = '1';
  env.NG_CLI_ANALYTICS = 'false';
  env.npm_config_update_notifier = 'false';
  return env;
}

/**
 * A small semver range check for Node versions: `||` alternatives of space-separated comparators
 * (`^x.y.z`, `~x.y.z`, `>=`, `>`, `<=`, `<`, `=` or a bare version). Enough for engines fields.
 */
function satisfiesNodeRange(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (v === null) throw new Error(`not a version: ${version}`);
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter((part) => part !== '')
      .every((comparator) => satisfiesComparator(v, comparator)),
  );
}

function satisfiesComparator(v: [number, number, number], comparator: string): boolean {
  const match = /^(\^|~|>=|<=|>|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(comparator);
  if (match === null) throw new Error(`unsupported Node range comparator: ${comparator}`);
  const [, op = '=', major = '0', minor = '0', patch = '0'] = match;
  const want: [number, number, number] = [Number(major), Number(minor), Number(patch)];
  const cmp = compareVersions(v, want);
  switch (op) {
    case '^':
      return cmp >= 0 && v[0] === want[0];
    case '~':
      return cmp >= 0 && v[0] === want[0] && v[1] === want[1];
    case '>=':
      return cmp >= 0;
    case '>':
      return cmp > 0;
    case '<=':
      return cmp <= 0;
    case '<':
      return cmp < 0;
    default:
      return cmp === 0;
  }
}

function parseVersion(text: string): [number, number, number] | null {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match === null ? null : [Number(match[1]), Number(match[2]), Number(match[3])];
}

function compareVersions(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function renderTable(rows: Row[]): string {
  const lines = ['| template | install | build | seconds | note |', '| --- | --- | --- | ---: | --- |'];
  for (const row of rows) {
    lines.push(
      `| ${row.id} | ${row.install} | ${row.build} | ${row.seconds} | ${row.note.replaceAll('\n', ' ').replaceAll('|', '\\|')} |`,
    );
  }
  return lines.join('\n');
}

async function cleanUpAndExit(signal: NodeJS.Signals): Promise<void> {
  for (const pid of activeChildren) killGroup(pid);
  await Promise.all([...activeDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  console.error(`interrupted by ${signal}; temp folders removed`);
  process.exit(130);
}

process.once('SIGINT', (signal) => void cleanUpAndExit(signal));
process.once('SIGTERM', (signal) => void cleanUpAndExit(signal));

process.exitCode = await main();
