import { setTimeout as sleep } from 'node:timers/promises';
import { budgetMs } from './time-budget.js';

/**
 * Polls `check` until it returns a truthy value (or stops throwing), then returns it. Fails with
 * the last error or a message naming `what` after `timeoutMs` (default 10 s on an idle machine,
 * longer in proportion to the load: see time-budget.ts). Tests synchronise on state, not sleeps.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = budgetMs(5_000),
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let delay = 5;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      if (lastError instanceof Error) {
        lastError.message = `waitFor(${what}) timed out after ${timeoutMs} ms: ${lastError.message}`;
        throw lastError;
      }
      throw new Error(`waitFor(${what}) timed out after ${timeoutMs} ms`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}
