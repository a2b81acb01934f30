import { Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { IShardRepository, PruneResult } from '../persistence/index.js';
import { bullPrefix } from './sync-queue.js';

export const HISTORY_QUEUE_NAME = 'history';

/** What a pruning pass deleted: checkpoints (PruneResult) and operation replies. */
export type HistoryPruneResult = PruneResult & { opReplies: number };
const PRUNE_SCHEDULER_ID = 'prune-checkpoints';

/**
 * Retention of version history in the background: a BullMQ job scheduler (one for the whole
 * cluster, whoever upserts it) adds a prune job every HISTORY_PRUNE_INTERVAL_MS, and one worker
 * per instance runs it (concurrency 1; the job is idempotent, so a stalled one running again is
 * harmless). The job is database work only, so it runs in the worker's own thread.
 */
export class HistoryPruner {
  readonly queue: Queue;
  private worker: Worker<unknown, HistoryPruneResult> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      producer: Redis | Cluster;
      /** A blocking connection for the worker; without it this instance only schedules. */
      consumer?: Redis | Cluster | undefined;
      repository: IShardRepository;
      keyPrefix: string;
      history: Config['history'];
      jobs: Config['jobs'];
      logger: Logger;
    },
  ) {
    this.queue = new Queue(HISTORY_QUEUE_NAME, {
      connection: deps.producer,
      prefix: bullPrefix(deps.keyPrefix, deps.producer.isCluster),
      defaultJobOptions: {
        attempts: deps.jobs.attempts,
        backoff: { type: 'exponential', delay: deps.jobs.backoffMs },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    });
  }

  /** Upserts the schedule and starts the worker. */
  async start(): Promise<void> {
    await this.queue.upsertJobScheduler(
      PRUNE_SCHEDULER_ID,
      { every: this.deps.history.pruneIntervalMs },
      { name: 'prune' },
    );
    const consumer = this.deps.consumer;
    if (consumer === undefined) return;
    const log = this.deps.logger.child({ module: 'history-pruner' });
    this.worker = new Worker<unknown, HistoryPruneResult>(HISTORY_QUEUE_NAME, () => this.pruneNow(), {
      connection: consumer,
      prefix: bullPrefix(this.deps.keyPrefix, consumer.isCluster),
      concurrency: 1,
      lockDuration: this.deps.jobs.lockDurationMs,
      stalledInterval: this.deps.jobs.stalledIntervalMs,
    });
    this.worker.on('completed', (job, result) => log.info({ jobId: job.id, ...result }, 'checkpoints pruned'));
    this.worker.on('failed', (job, error) => log.warn({ jobId: job?.id, err: error }, 'checkpoint pruning failed'));
    this.worker.on('error', (error) => log.error({ err: error }, 'history pruner error'));
  }

  /**
   * One pruning pass over every shard (what the scheduled job runs): checkpoints past their
   * retention, and file operations' replies past a day (IShardRepository.pruneOpReplies).
   */
  async pruneNow(): Promise<HistoryPruneResult> {
    const checkpoints = await this.deps.repository.pruneCheckpoints({
      keepAllMs: this.deps.history.keepAllMs,
      keepDailyMs: this.deps.history.keepDailyMs,
    });
    return { ...checkpoints, opReplies: await this.deps.repository.pruneOpReplies() };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
      await this.queue.close();
    })();
    return this.closing;
  }
}
