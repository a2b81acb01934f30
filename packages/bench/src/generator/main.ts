/**
 * A load generator process: the orchestrator forks one or several, sends each its share of a job
 * over IPC, runs the job's steps on all of them, and gets phases, checkpoints and results back.
 * Runs clients only; servers are other processes.
 */
import { sharedNow } from './clock.js';
import { FanoutRun } from './run-fanout.js';
import { runIdle } from './run-idle.js';
import type { FromGenerator, ToGenerator } from './jobs.js';

const send = (m: FromGenerator) => process.send?.(m);
const fail = (error: unknown) =>
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
let resume: (() => void) | undefined;
let fanout: FanoutRun | undefined;

process.on('message', (message: ToGenerator) => {
  switch (message.type) {
    case 'clock':
      send({ type: 'clock', now: sharedNow() });
      break;
    case 'run':
      runIdle(message.job, send, () => new Promise<void>((r) => (resume = r))).then(
        (result) => send({ type: 'result', result }),
        fail,
      );
      break;
    case 'fanout':
      try {
        fanout = new FanoutRun(message.job, message.part);
        send({ type: 'created' });
      } catch (error) {
        fail(error);
      }
      break;
    case 'step': {
      const { step } = message;
      fanout!.step(step).then((data) => send({ type: 'done', step, data }), fail);
      break;
    }
    case 'continue':
      resume?.();
      resume = undefined;
      break;
    case 'stop':
      fanout?.close();
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
