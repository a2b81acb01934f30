// `npm run build`: the TypeScript packages and the web editor, each only when its sources (or
// the lockfile) changed since its last build; `npm run build -- --force` rebuilds everything.
import { build, ROOT } from './first-run.mjs';

const force = process.argv.includes('--force');
try {
  const ran = build(ROOT, { force });
  if (ran.length === 0) process.stderr.write('build: up to date (npm run build -- --force rebuilds)\n');
} catch (error) {
  process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
