import { z } from 'zod';

/**
 * When the scheduler's next sync job may start, so that the jobs fit BullMQ's limiter
 * (`max` jobs per `durationMs`, a fixed window that opens with the first job after the last one
 * closed) without emptying it early.
 *
 * Taken greedily, the limiter's window was spent in its first seconds under a steady load
 * (three partitions every 2 s scan want 1.5 jobs/s against the limiter's 1/s): then every
 * partition waited in the limiter until the window closed, and a shard edited just after its
 * job read it waited two scans plus that stall (the 6–9 s tail of the steady sync benchmark).
 * Paced, jobs start a limiter slot (`durationMs / max`) apart, so each of `SYNC_CONCURRENCY`
 * partitions gets a turn every `concurrency` slots (3 s by default).
 *
 * Rules, for starts handed out in order (each at or after the one before):
 * - a job starts one slot after the previous start, or at once when none was in the last
 *   `durationMs` (a quiet cluster's first job, a lone typist's jobs 2 s apart are not slowed);
 * - a full job (`spaced: false`: its partition has a batch's worth of shards waiting, a backlog)
 *   starts at once: there the limiter bounds throughput, and a window spent early on full
 *   jobs clears a finite backlog sooner, as the greedy enqueue did;
 * - never more than `max` starts in any `durationMs` (so no window of the limiter is exceeded);
 *   jobs held back by a full window (after a backlog's full jobs) start together when it closes.
 * A start is recorded only when `commit`ted (a job that deduplication dropped takes no slot).
 */
export const SyncPacerState = z.strictObject({
  starts: z.array(z.number()).max(100_000),
  lastCapped: z.boolean(),
});
export type SyncPacerState = z.infer<typeof SyncPacerState>;

export class SyncPacer {
  private readonly starts: number[] = [];
  /** Whether the latest start was held back by a full window (not by its slot). */
  private lastCapped = false;

  constructor(private readonly limiter: { max: number; durationMs: number }) {}

  /** The earliest start for the next job, at or after `now` (not recorded). */
  next(now: number, options: { spaced: boolean } = { spaced: true }): number {
    this.forget(now);
    const last = this.starts.at(-1);
    if (last === undefined) return now;
    const slot = this.limiter.durationMs / this.limiter.max;
    const capped = this.cap();
    // Jobs held back by the same full window start together when it closes, as the limiter
    // would run them: spacing them out after it only delays the end of a backlog.
    if (this.lastCapped && capped < last + slot) return Math.max(now, last, capped);
    return Math.max(now, options.spaced ? last + slot : last, capped);
  }

  /** Records a start (one `next` returned). */
  commit(at: number): void {
    this.lastCapped = at === this.cap();
    this.starts.push(at);
  }

  /** The earliest start that keeps every window within the limit: a window after the max-th most recent start. */
  private cap(): number {
    const bound = this.starts[this.starts.length - this.limiter.max];
    return bound === undefined ? -Infinity : bound + this.limiter.durationMs;
  }

  /** What `restore` takes back: the starts of the last window and how the latest was set. */
  state(): SyncPacerState {
    return { starts: [...this.starts], lastCapped: this.lastCapped };
  }

  /** Replaces what this pacer knows by `state` (another instance led the ticks meanwhile). */
  restore(state: SyncPacerState): void {
    this.starts.splice(0, this.starts.length, ...[...state.starts].sort((a, b) => a - b));
    this.lastCapped = state.lastCapped;
  }

  /** Starts older than one window no longer count. */
  private forget(now: number): void {
    let stale = 0;
    while (stale < this.starts.length && this.starts[stale]! <= now - this.limiter.durationMs) stale++;
    if (stale > 0) this.starts.splice(0, stale);
  }
}
