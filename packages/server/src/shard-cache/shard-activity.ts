import type { ShardId } from '@tandem/protocol';
import type { Logger } from '../logging/index.js';
import type { IShardRepository } from '../persistence/index.js';

export type ShardActivityDeps = {
  repository: Pick<IShardRepository, 'touch'>;
  logger: Logger;
  /** How long changes gather before one database write reports them. Default 1000 ms. */
  flushDelayMs?: number;
};

/**
 * The updated time of shards being changed now, before any sync: every stored change (edit, file
 * operation, upload) notes its shard and time here, and notes gather for `flushDelayMs` before
 * one transaction moves their rows' updated_at (`IShardRepository.touch`). So `GET /shards`,
 * which sorts by it, shows a shard edited right now as updated now, at the cost of at most one
 * database write per instance and flush whatever the number of edits, and no Redis command.
 * Advisory: a failed write is retried with the next flush, and a note lost with its instance is
 * made good by the shard's next sync (which sets updated_at too).
 */
export class ShardActivity {
  private pending = new Map<ShardId, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly deps: ShardActivityDeps) {}

  /** Notes that a change to the shard was stored now. */
  note(shardId: ShardId): void {
    this.pending.set(shardId, Date.now());
    this.schedule();
  }

  /**
   * Writes what is noted. A failure keeps the notes for the next flush; never rejects. The timed
   * flush passes `wait: false`: it runs on the event loop, so when the database's write lock is
   * held (SQLite: a sync thread's commit) it gives up and tries again a flush later rather than
   * block every socket of the instance until the lock is free. A caller that needs the write
   * (the shard list) waits.
   */
  flush(options: { wait?: boolean } = {}): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing !== undefined) return this.flushing.then(() => this.flush(options));
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    // A newer note of the same shard wins over the one not written.
    const keep = () => {
      for (const [id, ms] of batch) if (!this.pending.has(id)) this.pending.set(id, ms);
    };
    this.flushing = this.deps.repository
      .touch(new Map([...batch].map(([id, ms]) => [id, new Date(ms)])), { wait: options.wait ?? true })
      .then(
        (moved) => {
          if (moved === null) keep();
        },
        (error: unknown) => {
          keep();
          this.deps.logger.warn({ err: error, shards: batch.size }, 'could not record the updated time of shards');
        },
      )
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.size > 0) this.schedule();
      });
    return this.flushing;
  }

  /** Writes what is pending and stops the timer (before the database closes). */
  async close(): Promise<void> {
    await this.flush();
    // Notes a failed last write kept, or changes stored after this, wait for the next sync.
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined || this.flushing !== undefined) return;
    this.timer = setTimeout(() => void this.flush({ wait: false }), this.deps.flushDelayMs ?? 1000);
    this.timer.unref();
  }
}
