import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The packages whose built output the server processes (or the tests) run. */
const PACKAGES = ['protocol', 'client-sdk', 'server'] as const;

/** Newest modification time (ms) of the files under a directory; 0 if there are none. */
function newestMtimeMs(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Touched after a successful `tsc -b` here: dist/ was up to date with src/ at that moment. */
function stampFile(repoRoot: string): string {
  return join(repoRoot, 'node_modules/.cache/fresh-dist.stamp');
}

/**
 * Packages whose `dist/` is older than their `src/`: some source file changed after the last
 * build (which writes `dist/`) and after the last `tsc -b` this helper ran (which may write
 * nothing when only modification times changed), so `dist/` may not be what the sources say.
 */
export function staleDistPackages(repoRoot: string): string[] {
  const checkedMs = statSync(stampFile(repoRoot), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return PACKAGES.filter((name) => {
    const pkg = join(repoRoot, 'packages', name);
    if (newestMtimeMs(join(pkg, 'src')) > Math.max(checkedMs, newestMtimeMs(join(pkg, 'dist')))) return true;
    return missingAssets(pkg).length > 0;
  });
}

/** Files under `src/` that tsc does not emit (e.g. the shard cache's Lua) and that are not under `dist/`. */
function missingAssets(pkg: string): string[] {
  const src = join(pkg, 'src');
  if (!existsSync(src)) return [];
  return (
    readdirSync(src, { withFileTypes: true, recursive: true })
      // Scripts (.ts, and .mjs entries used only when running from source) are not assets.
      .filter((e) => e.isFile() && !/\.(ts|mjs|cjs|js)$/.test(e.name) && !e.name.endsWith('~'))
      .map((e) => relative(src, join(e.parentPath, e.name)))
      .filter((file) => !existsSync(join(pkg, 'dist', file)))
  );
}

/**
 * What server processes of a test should run: `source` when nothing is built, else `dist`,
 * rebuilt first (`tsc -b`, then the server's assets) when any of protocol, client-sdk or server
 * changed since it was built, or an asset of the server (a file tsc does not emit) is missing. Test files running in parallel take turns through a lock directory, so only one builds.
 * Throws with the compiler's output if the build fails.
 */
export async function freshDistEntry(repoRoot: string): Promise<'dist' | 'source'> {
  if (!existsSync(join(repoRoot, 'packages/server/dist/main.js'))) return 'source';
  if (staleDistPackages(repoRoot).length === 0) return 'dist';
  const lock = join(repoRoot, 'node_modules/.cache/fresh-dist.lock');
  mkdirSync(join(repoRoot, 'node_modules/.cache'), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another test file is building: wait for it, unless its lock is left over from a killed run.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held !== undefined && Date.now() - held.mtimeMs > 300_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`waited 300 s for the build lock ${lock}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    const stale = staleDistPackages(repoRoot);
    if (stale.length > 0) {
      const startedMs = Date.now();
      try {
        execFileSync('npx', ['tsc', '-b', 'packages/server', 'packages/client-sdk'], { cwd: repoRoot, stdio: 'pipe' });
        // What tsc does not emit (the shard cache's Lua scripts), as `npm run build` does.
        execFileSync('npm', ['run', 'build:assets', '-w', '@tandem/server', '--if-present'], {
          cwd: repoRoot,
          stdio: 'pipe',
        });
      } catch (error) {
        const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
        throw new Error(`dist/ of ${stale.join(', ')} is older than src/ and the build failed:\n${output}`, {
          cause: error,
        });
      }
      // tsc -b compares contents: it succeeded, so dist/ matches the sources as they were when
      // it started (a file saved during the build stays newer than the stamp).
      writeFileSync(stampFile(repoRoot), '');
      const at = new Date(startedMs);
      utimesSync(stampFile(repoRoot), at, at);
    }
  } finally {
    rmdirSync(lock);
  }
  return 'dist';
}
