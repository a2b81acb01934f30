import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Runs `work` and reports the longest the event loop was blocked meanwhile, in ms (5 ms resolution). */
export async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const result = await work();
    return { result, stallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}
