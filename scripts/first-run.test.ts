import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { budgetMs } from '../packages/server/test/support/time-budget.js';
import {
  browserPlan,
  inputsDigest,
  installCommand,
  isUpToDate,
  missingPackages,
  recordBuilt,
  ROOT,
  type BuildStep,
} from './first-run.mjs';

const dirs: string[] = [];
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-first-run-'));
  dirs.push(dir);
  return dir;
}
function write(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}
function installed(root: string, path: string, version: string): void {
  write(root, `${path}/package.json`, JSON.stringify({ name: path.split('node_modules/').at(-1), version }));
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('missingPackages', () => {
  function lockedRoot(): string {
    const root = tempRoot();
    write(
      root,
      'package-lock.json',
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'x' },
          'packages/server': { name: '@x/server' },
          'node_modules/@x/server': { resolved: 'packages/server', link: true },
          'node_modules/fastify': { version: '5.1.0' },
          'node_modules/pino': { version: '10.0.0' },
          'node_modules/a/node_modules/b': { version: '2.0.0' },
          'node_modules/vitest': { version: '4.0.0', dev: true },
          'node_modules/@rolldown/binding-darwin-arm64': { version: '1.0.0', optional: true },
          'node_modules/fsevents': { version: '2.3.3', dev: true, optional: true },
          'node_modules/sometimes': { version: '1.0.0', devOptional: true },
        },
      }),
    );
    return root;
  }

  it('reports what the server needs that is absent or at another version, and the test tools only when asked', () => {
    const root = lockedRoot();
    installed(root, 'node_modules/fastify', '5.1.0');
    installed(root, 'node_modules/pino', '9.0.0');
    expect(missingPackages(root, { dev: false })).toEqual([
      'node_modules/@x/server',
      'node_modules/pino',
      'node_modules/a/node_modules/b',
    ]);
    expect(missingPackages(root, { dev: true })).toEqual([
      'node_modules/@x/server',
      'node_modules/pino',
      'node_modules/a/node_modules/b',
      'node_modules/vitest',
    ]);
    installed(root, 'packages/server', '0.1.0');
    mkdirSync(join(root, 'node_modules/@x'), { recursive: true });
    installed(root, 'node_modules/@x/server', '0.1.0');
    installed(root, 'node_modules/pino', '10.0.0');
    installed(root, 'node_modules/a/node_modules/b', '2.0.0');
    expect(missingPackages(root, { dev: false })).toEqual([]);
    expect(missingPackages(root, { dev: true })).toEqual(['node_modules/vitest']);
  });

  it('finds nothing missing in this checkout (its tests are running)', () => {
    expect(missingPackages(ROOT, { dev: true })).toEqual([]);
  });
});

describe('installCommand', () => {
  it('installs the server only on a fresh clone for start, everything for test, and never drops test tools', () => {
    const root = tempRoot();
    expect(installCommand(root, { dev: false })).toEqual(['ci', '--no-audit', '--no-fund', '--omit=dev']);
    expect(installCommand(root, { dev: true })).toEqual(['ci', '--no-audit', '--no-fund', '--include=dev']);
    mkdirSync(join(root, 'node_modules'));
    expect(installCommand(root, { dev: false })).toEqual([
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--omit=dev',
    ]);
    expect(installCommand(root, { dev: true })).toEqual([
      'install',
      '--no-audit',
      '--no-fund',
      '--no-save',
      '--include=dev',
    ]);
    installed(root, 'node_modules/vitest', '4.0.0');
    expect(installCommand(root, { dev: false })).toEqual(['install', '--no-audit', '--no-fund', '--no-save']);
  });
});

describe('build steps', () => {
  it('are up to date only while the inputs are unchanged and the outputs exist', () => {
    const root = tempRoot();
    write(root, 'src/a.ts', 'export const a = 1;\n');
    write(root, 'src/node_modules/x/index.js', 'ignored');
    write(root, 'dist/a.js', 'built');
    const step: BuildStep = {
      name: 'test',
      inputs: ['src', 'missing-file.json'],
      outputs: ['dist/a.js'],
      stampFile: 'dist/.build-inputs',
      commands: [],
    };
    expect(isUpToDate(root, step)).toBe(false);
    recordBuilt(root, step);
    expect(isUpToDate(root, step)).toBe(true);
    // node_modules and dist under an input do not count.
    write(root, 'src/node_modules/x/index.js', 'changed');
    expect(isUpToDate(root, step)).toBe(true);
    const before = inputsDigest(root, step.inputs);
    write(root, 'src/a.ts', 'export const a = 2;\n');
    expect(inputsDigest(root, step.inputs)).not.toBe(before);
    expect(isUpToDate(root, step)).toBe(false);
    recordBuilt(root, step);
    // A new file, a renamed file: changed.
    write(root, 'src/b.ts', '');
    expect(isUpToDate(root, step)).toBe(false);
    recordBuilt(root, step);
    rmSync(join(root, 'dist/a.js'));
    expect(isUpToDate(root, step)).toBe(false);
  });
});

describe('browserPlan', () => {
  it('is ok with a browser, installs when it may, else names the one command', () => {
    const absent = join(tempRoot(), 'chromium');
    expect(browserPlan({ chromiumPath: process.execPath, canInstall: () => false })).toEqual({
      action: 'ok',
      path: process.execPath,
    });
    expect(browserPlan({ chromiumPath: undefined, defaultPath: absent, canInstall: () => true })).toEqual({
      action: 'install',
      path: absent,
    });
    const cannot = browserPlan({ chromiumPath: undefined, defaultPath: absent, canInstall: () => false });
    expect(cannot).toMatchObject({ action: 'fail' });
    expect(cannot.action === 'fail' && cannot.message).toContain('sudo bash .ci/install-browser');
    // A path of one's own is never installed over.
    const custom = browserPlan({ chromiumPath: absent, canInstall: () => true });
    expect(custom).toMatchObject({ action: 'fail' });
    expect(custom.action === 'fail' && custom.message).toContain(`CHROMIUM_PATH=${absent}`);
  });

  it('npm test stops within the first second, with the command to run, when the browser is missing', () => {
    const absent = join(tempRoot(), 'no-chromium');
    const started = performance.now();
    const run = spawnSync(process.execPath, ['scripts/pretest.mjs'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', CHROMIUM_PATH: absent },
      encoding: 'utf8',
      timeout: budgetMs(10_000),
    });
    const elapsedMs = performance.now() - started;
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`CHROMIUM_PATH=${absent} does not exist`);
    expect(run.stderr).toContain('sudo bash .ci/install-browser');
    expect(elapsedMs).toBeLessThan(budgetMs(500));
  });
});

describe('what npm start installs (npm ci --omit=dev: no devDependencies)', () => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  /** The lock entry npm resolves `name` to from a workspace (its own node_modules first). */
  function lockEntry(workspace: string, name: string): [string, { dev?: boolean }] | undefined {
    for (const path of [`packages/${workspace}/node_modules/${name}`, `node_modules/${name}`]) {
      const entry = lock.packages[path];
      if (entry !== undefined) return [path, entry];
    }
    return undefined;
  }
  /** Packages imported by name from a workspace's source (tests excluded). */
  function bareImports(workspace: string): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        // next-shims.ts holds the source of the preview's next/* modules in strings, imports and all.
        else if (/\.(ts|tsx|mts)$/.test(entry.name) && !/\.test\.tsx?$|^next-shims\.ts$/.test(entry.name)) {
          const text = readFileSync(path, 'utf8');
          // Static imports and re-exports at the start of a line (code in strings is not an import).
          for (const [, from, bare] of text.matchAll(
            /^(?:import|export)\b[^'";]*?\bfrom\s+'([^'.][^']*)'|^import\s+'([^'.][^']*)'/gm,
          )) {
            const spec = from ?? bare;
            if (spec === undefined || spec.startsWith('node:') || spec.startsWith('@tandem/')) continue;
            const parts = spec.split('/');
            names.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string));
          }
        }
      }
    };
    walk(join(ROOT, 'packages', workspace, 'src'));
    return names;
  }
  /** Whether an installed package ships its own type declarations (a .d.ts file near its top). */
  function hasOwnTypes(path: string): boolean {
    const manifest = JSON.parse(readFileSync(join(ROOT, path, 'package.json'), 'utf8')) as Record<string, unknown>;
    if (manifest['types'] !== undefined || manifest['typings'] !== undefined) return true;
    const find = (dir: string, depth: number): boolean =>
      readdirSync(dir, { withFileTypes: true }).some((entry) =>
        entry.isDirectory()
          ? depth > 0 && entry.name !== 'node_modules' && find(join(dir, entry.name), depth - 1)
          : /\.d\.[cm]?ts$/.test(entry.name),
      );
    return find(join(ROOT, path), 3);
  }

  it.each(['protocol', 'client-sdk', 'server', 'web-editor'])(
    'has every package that %s imports, and the types tsc builds it with',
    (workspace) => {
      const problems: string[] = [];
      for (const name of [...bareImports(workspace)].sort()) {
        const found = lockEntry(workspace, name);
        if (found === undefined) problems.push(`${name}: not in package-lock.json`);
        else if (found[1].dev === true) problems.push(`${name}: a devDependency`);
        // The web editor is bundled by vite, which does not type-check.
        if (workspace === 'web-editor' || found === undefined || hasOwnTypes(found[0])) continue;
        const types = lockEntry(workspace, `@types/${name.replace(/^@/, '').replace('/', '__')}`);
        if (types === undefined) problems.push(`${name}: no type declarations`);
        else if (types[1].dev === true) problems.push(`${name}: its @types package is a devDependency`);
      }
      expect(problems).toEqual([]);
    },
  );
});
