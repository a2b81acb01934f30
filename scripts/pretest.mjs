// `npm test`, first: the browser its browser tests drive (installed when it can be, as .ci/run
// does, else a stop within the first second with the one command to run), then the test tools
// (`npm start` installs only the server's dependencies).
import { spawnSync } from 'node:child_process';
import { browserPlan, canInstallDebianPackages, ensureDependencies, ROOT } from './first-run.mjs';

function fail(message) {
  process.stderr.write(`npm test: ${message}\n`);
  process.exit(1);
}

const chromiumPath = process.env['CHROMIUM_PATH'] || undefined;
const plan = browserPlan({ chromiumPath, canInstall: canInstallDebianPackages });
if (plan.action === 'fail') fail(plan.message);
if (plan.action === 'install') {
  process.stderr.write(`npm test: no Chromium at ${plan.path}; installing Debian's (bash .ci/install-browser)\n`);
  const run = spawnSync('bash', ['.ci/install-browser'], { cwd: ROOT, stdio: 'inherit' });
  const after = browserPlan({ chromiumPath, canInstall: () => false });
  if (run.status !== 0 || after.action !== 'ok') fail(`installing Chromium failed; run: sudo bash .ci/install-browser`);
}

try {
  ensureDependencies(ROOT, { dev: true });
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
