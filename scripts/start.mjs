// `npm start`, before the server: installs the server's dependencies if they are missing (not
// the test tools; `npm test` adds those) and rebuilds only what changed since the last build.
// package.json then starts the built server.
import { build, ensureDependencies, ROOT } from './first-run.mjs';

try {
  ensureDependencies(ROOT, { dev: false });
  build(ROOT, { quiet: true });
} catch (error) {
  process.stderr.write(`npm start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
