import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import type { Config } from '../config/index.js';
import type { SyncJobData } from './sync-job-data.js';

export const SYNC_QUEUE_NAME = 'sync';

/**
 * The BullMQ prefix of the sync queue: under the configured key prefix, so tests and tenants never
 * share queues. On a Redis Cluster the prefix is a hash tag (`{tandem}:bull`): BullMQ's scripts
 * touch several keys of a queue at once, so they must all hash to one slot (BullMQ docs,
 * "Redis Cluster"). A single Redis keeps the plain `tandem:bull`.
 */
export function bullPrefix(keyPrefix: string, cluster = false): string {
  return cluster ? `{${keyPrefix}}:bull` : `${keyPrefix}:bull`;
}

/**
 * The producer side of the sync queue. One job syncs a batch of shards; shards are split into
 * `concurrency` partitions by a stable hash, and each partition has at most one job waiting
 * or running (BullMQ deduplication), so a shard never has two syncs queued at once.
 */
export class SyncQueue {
  readonly queue: Queue<SyncJobData>;
  private closing: Promise<void> | undefined;

  constructor(
    connection: Redis | Cluster,
    keyPrefix: string,
    private readonly jobs: Config['jobs'],
  ) {
    this.queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, {
      connection,
      prefix: bullPrefix(keyPrefix, connection.isCluster),
      defaultJobOptions: {
        attempts: jobs.attempts,
        backoff: { type: 'exponential', delay: jobs.backoffMs },
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 5000 },
      },
    });
  }

  /** The partition a shard belongs to (stable across processes). */
  partitionOf(shardId: ShardId): number {
    return syncPartitionOf(shardId, this.jobs.concurrency);
  }

  /**
   * The shards split by partition (each cut at the batch size), partitions in the order their
   * first shard comes in `shards`: oldest changes first in, oldest partition first out.
   */
  partitioned(shards: SyncJobData['shards']): Array<{ partition: number; shards: SyncJobData['shards'] }> {
    const partitions = new Map<number, SyncJobData['shards']>();
    for (const entry of shards) {
      const p = this.partitionOf(entry.shardId);
      const list = partitions.get(p) ?? [];
      if (list.length < this.jobs.batchSize) list.push(entry);
      partitions.set(p, list);
    }
    return [...partitions].map(([partition, list]) => ({ partition, shards: list }));
  }

  /**
   * Adds a partition's job, to start after `delayMs`; false when the partition already has a job
   * waiting, delayed or running (deduplication dropped this one).
   */
  async add(partition: number, shards: SyncJobData['shards'], delayMs = 0): Promise<boolean> {
    // Our own id, so that a deduplicated add (which answers with the pending job's id) is told apart.
    const jobId = randomUUID();
    const job = await this.queue.add(
      'sync',
      { shards },
      { jobId, deduplication: { id: `partition-${partition}` }, ...(delayMs > 0 ? { delay: Math.ceil(delayMs) } : {}) },
    );
    return job.id === jobId;
  }

  /** Enqueues one job per non-empty partition, at once; a partition with a job still pending is skipped. */
  async enqueue(shards: SyncJobData['shards']): Promise<number> {
    let added = 0;
    for (const { partition, shards: list } of this.partitioned(shards)) {
      if (await this.add(partition, list)) added++;
    }
    return added;
  }

  /** Waiting + delayed + active + prioritized jobs. */
  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  close(): Promise<void> {
    this.closing ??= this.queue.close();
    return this.closing;
  }
}

/**
 * The partition of a shard among `partitions` (the job concurrency): one sync job per partition
 * is pending at a time, so shards of one partition share a job.
 */
export function syncPartitionOf(shardId: ShardId, partitions: number): number {
  let h = 0;
  for (let i = 0; i < shardId.length; i++) h = (h * 31 + shardId.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}
