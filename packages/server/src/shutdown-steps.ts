import type { Logger } from './logging/index.js';

/** Runs close steps in order, continuing past failures and reporting all of them. */
export async function runSteps(steps: Array<[string, () => Promise<void>]>, log: Logger): Promise<void> {
  const failures: unknown[] = [];
  for (const [name, step] of steps) {
    try {
      log.info({ step: name }, 'shutdown step');
      await step();
    } catch (error) {
      log.error({ err: error, step: name }, 'shutdown step failed');
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'shutdown finished with failures');
}
