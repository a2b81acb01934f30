/**
 * One clock for every generator process. `performance.now()` counts from each process's own
 * start, so a send time taken in one process and a receive time taken in another cannot be
 * subtracted. CLOCK_MONOTONIC (`process.hrtime`) is one clock for the whole machine; this adds
 * the offset between the two, measured once, so `sharedNow()` is the machine's monotonic clock in
 * ms at the cost of one `performance.now()` (no BigInt per call).
 */
function measureOffsetMs(): number {
  let bestSpan = Infinity;
  let offset = 0;
  for (let i = 0; i < 50; i++) {
    const before = performance.now();
    const hr = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < bestSpan) {
      bestSpan = after - before;
      offset = hr - (before + after) / 2;
    }
  }
  return offset;
}

const OFFSET_MS = measureOffsetMs();

/** The machine's monotonic clock, in ms: comparable between processes. */
export function sharedNow(): number {
  return performance.now() + OFFSET_MS;
}
