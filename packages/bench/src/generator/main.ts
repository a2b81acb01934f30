/**
 * The load generator process: the orchestrator forks it, sends one job over IPC, and gets
 * phases, checkpoints and the result back. Runs clients only; servers are other processes.
 */
import { runFanout } from './run-fanout.js';
import { runIdle } from './run-idle.js';
import type { FromGenerator, ToGenerator } from './jobs.js';

const send = (m: FromGenerator) => process.send?.(m);
let resume: (() => void) | undefined;

process.on('message', (message: ToGenerator) => {
  switch (message.type) {
    case 'run': {
      const job = message.job;
      const run =
        job.kind === 'fanout' ? runFanout(job, send) : runIdle(job, send, () => new Promise<void>((r) => (resume = r)));
      run.then(
        (result) => send({ type: 'result', result }),
        (error: unknown) =>
          send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
      break;
    }
    case 'continue':
      resume?.();
      resume = undefined;
      break;
    case 'stop':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
