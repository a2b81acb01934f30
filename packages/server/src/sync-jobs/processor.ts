/**
 * The sync job processor: the entry file BullMQ loads in a worker thread (a sandboxed
 * processor with useWorkerThreads). Its own small composition root: it builds its own logger,
 * Redis connection and database pool from the config handed over in workerData, imports no
 * server singletons of the main thread, and only calls syncShards().
 */
import { threadId, workerData } from 'node:worker_threads';
import { UnrecoverableError, type Job } from 'bullmq';
import { ErrorCode } from '@tandem/protocol';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../logging/index.js';
import { toAppError } from '../errors/index.js';
import { createShardRepository } from '../persistence/index.js';
import { createRedisConnection } from '../redis/index.js';
import { DirtyMarks, HistoryAuthors, Membership, SyncStore } from '../shard-cache/index.js';
import { packageJsonDependencies } from '../templates/index.js';
import { syncShards, type SyncShardDeps } from './sync-shard.js';
import { checkpointsChannel, savedChannel, SyncJobData, type SyncJobResult } from './sync-job-data.js';
import { lowerThreadPriority } from './thread-priority.js';

let deps: SyncShardDeps | undefined;

/**
 * Most shards written in one database transaction: bounds how long a group holds SQLite's write
 * lock and how many merged states it keeps in memory (the default SYNC_BATCH_SIZE is 100).
 */
const GROUP_MAX = 100;

function build(): SyncShardDeps {
  const handed = (workerData as { config?: Config } | null)?.config;
  const config = handed ?? loadConfig(process.env);
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty }).child({
    module: 'sync-jobs',
    threadId,
  });
  // Once per thread, before its first job's work: see SYNC_THREAD_NICE.
  const priority = lowerThreadPriority(config.jobs.threadNice);
  if (priority.applied)
    logger.debug({ tid: priority.tid, nice: priority.nice }, 'sync thread runs at a lower priority');
  else if (config.jobs.threadNice !== 0 && process.platform === 'linux') {
    logger.warn({ reason: priority.reason }, "sync thread runs at the event loop's priority");
  }
  const redis = createRedisConnection(config.redis, `tandem:sync-thread:${threadId}`);
  const repository = createShardRepository(config.database);
  const keyPrefix = config.redis.keyPrefix;
  const members = new Membership({
    redis,
    keyPrefix,
    logger,
    instanceId: `sync-thread:${threadId}`,
    memberTtlMs: config.cache.memberTtlMs,
    heartbeatMs: config.cache.heartbeatMs,
  });
  const marks = new DirtyMarks({ redis, keyPrefix, logger });
  const store = new SyncStore({ redis, keyPrefix, logger, members, marks });
  const channel = savedChannel(config.redis.keyPrefix);
  return {
    store,
    repository,
    logger,
    authors: new HistoryAuthors({ redis, keyPrefix }),
    historyIntervalMs: config.history.intervalMs,
    publishSaved: async (event) => {
      await redis.publish(channel, JSON.stringify(event));
    },
    publishCheckpoint: async (event) => {
      await redis.publish(checkpointsChannel(keyPrefix), JSON.stringify(event));
    },
    dependenciesOf: packageJsonDependencies,
    checkpointTimes: new Map(),
    // A kill test's window (TANDEM_TEST_SYNC_CRASH, only with TANDEM_TEST_FAULTS): the whole
    // process dies, as with kill -9, between the commit and the compaction.
    afterCommit: config.testing.syncCrash === 'after-commit' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
  };
}

export default async function processSyncJob(job: Job): Promise<SyncJobResult> {
  deps ??= build();
  const started = performance.now();
  const parsed = SyncJobData.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`malformed sync job data: ${parsed.error.message}`);
  const result: SyncJobResult = { threadId, synced: 0, written: 0, deleted: 0, evicted: 0, failed: [], durationMs: 0 };
  let transient: unknown;
  const shards = parsed.data.shards;
  // The shards of a group share one database transaction (see syncShards).
  for (let start = 0; start < shards.length; start += GROUP_MAX) {
    const group = shards.slice(start, start + GROUP_MAX);
    const outcomes = await syncShards(deps, group);
    for (const [i, outcome] of outcomes.entries()) {
      const shardId = group[i]?.shardId ?? '';
      if (outcome.ok) {
        const r = outcome.result;
        result.synced++;
        result.written += r.written;
        result.deleted += r.deleted;
        if (r.evicted === 'EVICTED') result.evicted++;
        continue;
      }
      const { error } = outcome;
      const appError = toAppError(error);
      result.failed.push({ shardId, code: appError.code });
      if (appError.code === ErrorCode.SHARD_NOT_FOUND) {
        deps.logger.warn({ shardId, jobId: job.id }, 'shard no longer in the database; skipping its sync');
      } else {
        // The job fails below and the worker logs that once; this line only adds which shard.
        deps.logger.debug({ err: error, shardId, jobId: job.id, attempt: job.attemptsMade + 1 }, 'shard sync failed');
        transient ??= error;
      }
    }
    // Keep the job's lock alive across a long batch (a stalled check must not run it twice).
    await job.updateProgress(result.synced);
  }
  result.durationMs = Math.round(performance.now() - started);
  // A transient failure (database or Redis unavailable) fails the whole job so BullMQ retries it
  // with backoff; re-running the shards that did succeed is harmless.
  if (transient !== undefined) throw transient instanceof Error ? transient : new Error(String(transient));
  return result;
}
