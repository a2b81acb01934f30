// What `npm start`, `npm run build` and `npm test` do before their real work, so that both work
// on a fresh clone by themselves: install what is missing (the server's dependencies for start,
// everything for test), rebuild only what changed, and check for the browser the tests drive.
// Plain Node with no dependencies: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The repository root (this file is in scripts/). */
export const ROOT = join(import.meta.dirname, '..');

/**
 * Packages of package-lock.json that are not installed at their locked version. `dev: false`
 * checks only what running the server needs (npm's --omit=dev set); `dev: true` checks all.
 * Optional packages (platform binaries) are never required.
 */
export function missingPackages(root, { dev }) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const missing = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || !path.includes('node_modules/')) continue;
    if (entry.optional || entry.devOptional) continue;
    if (entry.dev && !dev) continue;
    const manifest = join(root, path, 'package.json');
    if (!existsSync(manifest)) {
      missing.push(path);
      continue;
    }
    if (entry.link) continue;
    const installed = JSON.parse(readFileSync(manifest, 'utf8')).version;
    if (entry.version !== undefined && installed !== entry.version) missing.push(path);
  }
  return missing;
}

/** How to get the missing packages: a clean `npm ci` on a fresh clone, else `npm install`. */
export function installCommand(root, { dev }) {
  const fresh = !existsSync(join(root, 'node_modules'));
  // A checkout that already has the test tools keeps them (npm install --omit=dev would remove them).
  const hasDev = existsSync(join(root, 'node_modules', 'vitest', 'package.json'));
  const args = [fresh ? 'ci' : 'install', '--no-audit', '--no-fund'];
  if (!fresh) args.push('--no-save');
  if (!dev && !hasDev) args.push('--omit=dev');
  if (dev) args.push('--include=dev');
  return args;
}

/** Installs what `missingPackages` reports, with npm; throws if npm fails. */
export function ensureDependencies(root, { dev, log = (line) => process.stderr.write(`${line}\n`) }) {
  const missing = missingPackages(root, { dev });
  if (missing.length === 0) return false;
  const args = installCommand(root, { dev });
  log(
    `${dev ? 'npm test' : 'npm start'}: ${missing.length} package(s) missing; running npm ${args.join(' ')}` +
      (dev ? '' : ' (the server only; npm test adds the test tools)'),
  );
  const npmCli = process.env['npm_execpath'];
  const [command, commandArgs] =
    npmCli !== undefined && npmCli.endsWith('.js') ? [process.execPath, [npmCli, ...args]] : ['npm', args];
  const run = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${run.status ?? run.signal})`);
  return true;
}

/** Files under `paths` (relative to root; files or folders), sorted, without node_modules and dist. */
function listFiles(root, paths) {
  const files = [];
  const walk = (abs) => {
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs)) {
        if (name === 'node_modules' || name === 'dist' || name.endsWith('.tsbuildinfo')) continue;
        walk(join(abs, name));
      }
    } else {
      files.push(relative(root, abs).split(sep).join('/'));
    }
  };
  for (const p of paths) walk(join(root, p));
  return [...new Set(files)].sort();
}

/** A digest of the names and contents of every file under `paths`. */
export function inputsDigest(root, paths) {
  const hash = createHash('sha256');
  for (const file of listFiles(root, paths)) {
    hash.update(file);
    hash.update('\0');
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * One build step that runs only when its inputs changed since its last successful run (or its
 * output is missing): the digest of the inputs is kept in `stampFile` inside the output.
 */
export function isUpToDate(root, step) {
  const stamp = join(root, step.stampFile);
  if (!step.outputs.every((o) => existsSync(join(root, o))) || !existsSync(stamp)) return false;
  return readFileSync(stamp, 'utf8').trim() === inputsDigest(root, step.inputs);
}

export function recordBuilt(root, step) {
  writeFileSync(join(root, step.stampFile), `${inputsDigest(root, step.inputs)}\n`);
}

const LOCK_AND_CONFIG = ['package-lock.json', 'package.json', 'tsconfig.base.json', 'tsconfig.json'];

/** The build: the TypeScript packages (tsc -b) with the server's assets, then the web editor (vite). */
export const BUILD_STEPS = [
  {
    name: 'server (tsc -b)',
    inputs: [
      ...LOCK_AND_CONFIG,
      'packages/protocol/src',
      'packages/protocol/package.json',
      'packages/protocol/tsconfig.json',
      'packages/client-sdk/src',
      'packages/client-sdk/package.json',
      'packages/client-sdk/tsconfig.json',
      'packages/server/src',
      'packages/server/package.json',
      'packages/server/tsconfig.json',
      'packages/server/scripts/copy-assets.mjs',
    ],
    outputs: ['packages/server/dist/main.js', 'packages/client-sdk/dist/index.js', 'packages/protocol/dist/index.js'],
    stampFile: 'packages/server/dist/.build-inputs',
    commands: [['node_modules/typescript/bin/tsc', '-b'], ['packages/server/scripts/copy-assets.mjs']],
  },
  {
    name: 'web editor (vite build)',
    inputs: [
      'package-lock.json',
      'packages/protocol/src',
      'packages/client-sdk/src',
      'packages/web-editor/src',
      'packages/web-editor/public',
      'packages/web-editor/shims',
      'packages/web-editor/index.html',
      'packages/web-editor/vite.config.ts',
      'packages/web-editor/tsconfig.json',
      'packages/web-editor/package.json',
    ],
    outputs: ['packages/web-editor/dist/index.html'],
    stampFile: 'packages/web-editor/dist/.build-inputs',
    cwd: 'packages/web-editor',
    commands: [['../../node_modules/vite/bin/vite.js', 'build']],
  },
];

/** Runs the steps whose inputs changed (all with `force`); returns the names of the steps run. */
export function build(root, { force = false, quiet = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const ran = [];
  for (const step of BUILD_STEPS) {
    if (!force && isUpToDate(root, step)) continue;
    log(`building the ${step.name}`);
    for (const [script, ...args] of step.commands) {
      const extra = quiet && script.endsWith('vite.js') ? ['--logLevel', 'warn'] : [];
      const run = spawnSync(process.execPath, [script, ...args, ...extra], {
        cwd: join(root, step.cwd ?? '.'),
        stdio: 'inherit',
      });
      if (run.status !== 0) throw new Error(`building the ${step.name} failed (exit ${run.status ?? run.signal})`);
    }
    recordBuilt(root, step);
    ran.push(step.name);
  }
  return ran;
}

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * What `npm test` does about the browser its browser tests drive (Debian's chromium through
 * playwright-core; CHROMIUM_PATH overrides where): `ok`; `install` (the default path is missing
 * and `canInstall()`: root with apt-get, as .ci/run does); or `fail` with the one command to run.
 */
export function browserPlan({ chromiumPath, defaultPath = DEFAULT_CHROMIUM, canInstall }) {
  const path = chromiumPath ?? defaultPath;
  if (existsSync(path)) return { action: 'ok', path };
  if (chromiumPath !== undefined && chromiumPath !== defaultPath) {
    return {
      action: 'fail',
      path,
      message: `CHROMIUM_PATH=${chromiumPath} does not exist. Point CHROMIUM_PATH at a Chromium binary, or unset it and run: sudo bash .ci/install-browser`,
    };
  }
  if (canInstall()) return { action: 'install', path };
  return {
    action: 'fail',
    path,
    message: `the browser tests need Debian's Chromium at ${defaultPath}. Install it (once) with: sudo bash .ci/install-browser`,
  };
}

/** Whether this process may install Debian packages itself: root, with apt-get. */
export function canInstallDebianPackages() {
  return process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}
