import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** What lowerThreadPriority did. */
export type ThreadPriorityResult = { applied: true; tid: number; nice: number } | { applied: false; reason: string };

/**
 * Gives the calling thread (and only it) the nice value `nice`, so that it takes a core only when
 * the event loop does not need it. Sync worker threads call it once at start: their work
 * (merging, encoding, database writes) is background work, while a thread at the event loop's
 * priority takes up to half of a shared core away from the edits in flight (the many-room p99 in
 * docs/benchmarks.md, change 22).
 *
 * Linux only: there a nice value belongs to a thread, and `setpriority(PRIO_PROCESS, tid)` (which
 * `os.setPriority` calls) sets that thread's. `/proc/thread-self` names the thread's id, which
 * Node does not expose otherwise. Elsewhere (where the value would apply to the whole process)
 * nothing is done. Raising a thread's nice needs no privilege; 0 leaves it as it is.
 */
export function lowerThreadPriority(nice: number): ThreadPriorityResult {
  if (nice === 0) return { applied: false, reason: 'nice 0' };
  if (process.platform !== 'linux')
    return { applied: false, reason: `per-thread priority is Linux only (${process.platform})` };
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return { applied: false, reason: 'no thread id in /proc/thread-self' };
    setPriority(tid, nice);
    return { applied: true, tid, nice };
  } catch (error) {
    return { applied: false, reason: error instanceof Error ? error.message : String(error) };
  }
}
