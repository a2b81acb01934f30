import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const webEditor = join(root, 'packages/web-editor');
/** The built editor the browser tests serve. */
export const WEB_DIST = join(webEditor, 'dist');

/** What the build reads: a change in any of these makes dist stale. */
const SOURCES = [
  join(webEditor, 'src'),
  join(webEditor, 'index.html'),
  join(webEditor, 'vite.config.ts'),
  join(webEditor, 'tsconfig.json'),
  join(webEditor, 'public'),
  join(webEditor, 'shims'),
  join(root, 'packages/client-sdk/src'),
  join(root, 'packages/protocol/src'),
];

/**
 * Builds the web editor (`vite build`) unless dist is newer than every source. Test files run in
 * parallel, so one build at a time: a lock folder, and whoever waited checks again.
 */
export async function ensureWebBuild(): Promise<void> {
  if (isFresh()) return;
  const lock = join(tmpdir(), 'tandem-web-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than two minutes is from a crashed run.
      if (Date.now() > deadline || Date.now() - statSync(lock).mtimeMs > 120_000)
        rmSync(lock, { recursive: true, force: true });
      await sleep(250);
    }
  }
  try {
    if (isFresh()) return;
    const vite = join(root, 'node_modules/vite/bin/vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      cwd: webEditor,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0)
      throw new Error(`vite build of the web editor failed:\n${result.stderr}\n${result.stdout}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function isFresh(): boolean {
  const index = join(WEB_DIST, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return SOURCES.every((source) => newestMtime(source) <= built);
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}
