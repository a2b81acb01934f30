import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { Worker, type Job } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { bullPrefix, SYNC_QUEUE_NAME } from './sync-queue.js';
import type { SyncJobData, SyncJobResult } from './sync-job-data.js';

/**
 * The processor file next to this module: `processor.js` in the built output, or, when the
 * server runs from source (tests, `npm run dev`), `processor.source.mjs`, which loads
 * processor.ts through tsx inside the worker thread.
 */
export function processorFile(): { file: string; execArgv: string[] | undefined } {
  const js = fileURLToPath(new URL('./processor.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: undefined };
  const source = fileURLToPath(new URL('./processor.source.mjs', import.meta.url));
  return { file: source, execArgv: ['--conditions=source'] };
}

export type SyncWorkerEvents = {
  completed?: (result: SyncJobResult, durationMs: number) => void;
  failed?: (willRetry: boolean) => void;
};

/**
 * The BullMQ worker of the sync queue: each job runs in a worker thread (sandboxed processor,
 * useWorkerThreads), `concurrency` at a time, under the cluster-wide limiter.
 */
export function createSyncWorker(deps: {
  connection: Redis | Cluster;
  config: Config;
  logger: Logger;
  events?: SyncWorkerEvents;
}): { worker: Worker<SyncJobData, SyncJobResult>; close(): Promise<void> } {
  const { config } = deps;
  const { file, execArgv } = processorFile();
  const worker = new Worker<SyncJobData, SyncJobResult>(SYNC_QUEUE_NAME, file, {
    connection: deps.connection,
    prefix: bullPrefix(config.redis.keyPrefix, deps.connection.isCluster),
    concurrency: config.jobs.concurrency,
    limiter: { max: config.jobs.limitMax, duration: config.jobs.limitDurationMs },
    lockDuration: config.jobs.lockDurationMs,
    stalledInterval: config.jobs.stalledIntervalMs,
    useWorkerThreads: true,
    workerThreadsOptions: {
      // The thread builds its own pool and connections from this config (see processor.ts).
      workerData: { config: JSON.parse(JSON.stringify(config)) as unknown },
      ...(execArgv === undefined ? {} : { execArgv }),
    },
  });
  const log = deps.logger.child({ module: 'sync-jobs' });
  worker.on('completed', (job: Job<SyncJobData, SyncJobResult>, result: SyncJobResult) => {
    const durationMs =
      job.finishedOn !== undefined && job.processedOn !== undefined
        ? job.finishedOn - job.processedOn
        : result.durationMs;
    log.info({ jobId: job.id, ...result }, 'sync job completed');
    deps.events?.completed?.(result, durationMs);
  });
  worker.on('failed', (job: Job<SyncJobData, SyncJobResult> | undefined, error: Error) => {
    const willRetry = job !== undefined && job.attemptsMade < (job.opts.attempts ?? 1);
    log.warn({ jobId: job?.id, err: error, attemptsMade: job?.attemptsMade, willRetry }, 'sync job failed');
    deps.events?.failed?.(willRetry);
  });
  worker.on('error', (error) => log.error({ err: error }, 'sync worker error'));
  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      // Waits for active jobs to finish (BullMQ's graceful close).
      closing ??= worker.close();
      return closing;
    },
  };
}
