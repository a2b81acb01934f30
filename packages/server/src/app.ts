import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ShardId } from '@tandem/protocol';
import type { Config } from './config/index.js';
import type { Logger } from './logging/index.js';
import { Metrics } from './metrics/index.js';
import { RedisManager } from './redis/index.js';
import { createShardRepository } from './persistence/index.js';
import { createTemplateRegistry, packageJsonDependencies } from './templates/index.js';
import { createAuthService, RedisShareLinkRegistry } from './auth/index.js';
import { createShardCache, FileStateVectors } from './shard-cache/index.js';
import {
  announceCheckpoint,
  checkpointsChannel,
  createSyncWorker,
  HistoryPruner,
  recordCheckpoint,
  savedChannel,
  syncShard,
  SyncQueue,
  SyncScheduler,
  type SyncShardDeps,
} from './sync-jobs/index.js';
import { createHistoryThreads, ShardService } from './shards/index.js';
import {
  attachSocketServer,
  createRoomEvents,
  createSocketServer,
  NO_ROOM_EVENTS,
  SocketService,
} from './realtime/index.js';
import { createHttpServer } from './http/index.js';
import { Faults, registerFaultRoutes } from './faults/index.js';
import type { App, AppOptions } from './app-types.js';
import { runSteps } from './shutdown-steps.js';

export type { App, AppOptions } from './app-types.js';

/**
 * The composition root: builds every module in dependency order and closes them in reverse.
 * The only place modules are wired together.
 */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const role = options.role ?? 'all';
  const serveApi = role !== 'worker';
  const runWorker = role !== 'api';
  const instanceId = options.instanceId ?? randomUUID();
  const log = logger.child({ instanceId });
  const redisManager = RedisManager.getInstance();
  redisManager.configure({ url: config.redis.url, clusterNodes: config.redis.clusterNodes });
  const scope = `app:${instanceId}`;
  const cacheRedis = redisManager.getConnection(`${scope}:default`);
  const repository = createShardRepository(config.database);
  const metrics = new Metrics();
  const faults = options.faults ?? (config.testing.faults ? new Faults() : undefined);
  const closeSteps: Array<[string, () => Promise<void>]> = [];
  let ready = false;

  try {
    // Refuse a bad auth setup before touching the database.
    const auth = createAuthService(config.auth, {
      shareLinks: new RedisShareLinkRegistry(cacheRedis, config.redis.keyPrefix),
    });
    const templates = options.templates ?? createTemplateRegistry();
    await repository.migrate();
    // Built in dependency order, each complete when constructed: the socket server first (it
    // needs only Redis), so the cache, the scheduler and the ShardService get the room
    // broadcasts; the HTTP routes get the ShardService; the socket server is attached to the
    // HTTP server last (socket.io routes its own requests before Fastify's).
    const io = serveApi
      ? createSocketServer({
          pubClient: redisManager.getConnection(`${scope}:pub`),
          // On a cluster, SSUBSCRIBE must reach the node owning each channel's slot.
          subClient: redisManager.getConnection(`${scope}:sub`, {
            clusterOptions: { shardedSubscribers: config.redis.shardedPubSub },
          }),
          keyPrefix: config.redis.keyPrefix,
          shardedPubSub: config.redis.shardedPubSub,
          limits: config.limits,
          corsOrigins: config.http.corsOrigins,
        })
      : undefined;
    const rooms = io === undefined ? NO_ROOM_EVENTS : createRoomEvents(io, faults);
    const cache = createShardCache({
      redis: cacheRedis,
      repository,
      logger: log.child({ module: 'shard-cache' }),
      keyPrefix: config.redis.keyPrefix,
      instanceId,
      cache: config.cache,
      limits: config.limits,
      onLoad: (shardId, _durationMs, announce) => {
        metrics.shardLoads.inc();
        // A reload after Redis lost the shard lost its members too: this instance's come back now
        // (other instances' with their next refresh; until then it may look empty, and an
        // eviction only flushes and drops what the next request loads again).
        void cache.members.refreshShards([shardId]);
        // After Redis lost a shard, people still in it hold edits the reload lacks. A join that
        // loaded it tells the room itself once it knows who is there (ShardMembership.join).
        if (announce) rooms.reloaded(shardId);
      },
    });
    const queue = new SyncQueue(redisManager.getConnection(`${scope}:queue`), config.redis.keyPrefix, config.jobs);
    const scheduler = new SyncScheduler({
      redis: cacheRedis,
      sync: cache.sync,
      members: cache.members,
      marks: cache.marks,
      queue,
      logger: log.child({ module: 'sync-scheduler' }),
      keyPrefix: config.redis.keyPrefix,
      jobs: config.jobs,
      evictGraceMs: config.cache.evictGraceMs,
      fullScanMs: config.jobs.fullScanMs,
      // A dead instance's members expired: its collaborators may have missed notices it stored
      // but never broadcast; tell the room the shard's version so clients re-check.
      onMembersExpired: (shardId) => {
        cache.files
          .version(shardId)
          .then((version) => rooms.versionAnnounced(shardId, version))
          .catch((error: unknown) => log.warn({ err: error, shardId }, 'could not announce the version of a shard'));
      },
    });
    // Starts no thread until the first merge or diff (nothing to close if the build fails).
    const historyThreads = createHistoryThreads();
    const channel = savedChannel(config.redis.keyPrefix);
    const syncDeps: SyncShardDeps = {
      store: cache.sync,
      repository,
      logger: log.child({ module: 'sync-jobs' }),
      authors: cache.authors,
      historyIntervalMs: config.history.intervalMs,
      publishSaved: async (event) => {
        await cacheRedis.publish(channel, JSON.stringify(event));
      },
      publishCheckpoint: async (event) => {
        await cacheRedis.publish(checkpointsChannel(config.redis.keyPrefix), JSON.stringify(event));
      },
      dependenciesOf: packageJsonDependencies,
      // A flush here runs on a request's path (named version, restore) or at shutdown: its merges
      // go to the worker threads, not the event loop.
      merge: (files) => historyThreads.merge(files),
    };
    const flushShard = async (shardId: ShardId): Promise<void> => {
      await syncShard(syncDeps, shardId, { evict: false });
    };
    const shardService = new ShardService({
      repository,
      cache,
      stateVectors: new FileStateVectors({ redis: cacheRedis, keyPrefix: config.redis.keyPrefix }),
      templates,
      logger: log.child({ module: 'shards' }),
      limits: config.limits,
      // `sockets` is built below, before any request can delete a shard.
      events: { ...rooms, deleted: (shardId) => sockets?.shardDeleted(shardId) },
      onLastLeave: (shardId) => {
        scheduler
          .noteLastLeave(shardId)
          .catch((error: unknown) => log.warn({ err: error, shardId }, 'could not record last leave'));
        options.onLastLeave?.(shardId);
      },
      onEdit: (seconds) => {
        metrics.edits.inc();
        metrics.editStore.observe(seconds);
      },
      // The shard holds MAX_SHARD_UNSYNCED_BYTES unsynced: sync it now, not at the next scan
      // (a job already waiting for its partition covers it).
      onBacklog: (shardId) => {
        metrics.backlogRefusals.inc();
        queue
          .enqueue([{ shardId, evict: false }])
          .catch((error: unknown) =>
            log.warn({ err: error, shardId }, 'could not enqueue the sync of a backlogged shard'),
          );
      },
      ...(faults === undefined ? {} : { faults }),
      flush: flushShard,
      threads: historyThreads,
      announceCheckpoint: (shardId, checkpoint) => announceCheckpoint(syncDeps, shardId, checkpoint),
      // Named versions and the state before a restore: flushed first, so unsynced edits are in it.
      checkpointNow: async (shardId, checkpoint) => {
        await flushShard(shardId);
        return recordCheckpoint(syncDeps, shardId, checkpoint);
      },
    });
    const pruner = new HistoryPruner({
      producer: redisManager.getConnection(`${scope}:queue`),
      consumer: runWorker ? redisManager.getConnection(`${scope}:history-worker`) : undefined,
      repository,
      keyPrefix: config.redis.keyPrefix,
      history: config.history,
      jobs: config.jobs,
      logger: log,
    });
    const sockets =
      io === undefined
        ? undefined
        : new SocketService({
            io,
            shards: shardService,
            members: cache.members,
            redis: cacheRedis,
            keyPrefix: config.redis.keyPrefix,
            instanceId,
            // Claims are refreshed with their members' leases (one slice of shards per beat).
            presenceClaimTtlMs: config.cache.memberLeaseMs,
            limits: config.limits,
            logger: log,
            auth,
            ...(faults === undefined ? {} : { faults }),
          });
    const http = await createHttpServer({
      config: config.http,
      limits: config.limits,
      logger: log,
      auth,
      shards: shardService,
      templates,
      apiRoutes: serveApi,
      rateLimitStore: { redis: cacheRedis, keyPrefix: config.redis.keyPrefix },
      isReady: () => ready,
      checkDependencies: async () => {
        await cacheRedis.ping();
      },
      metrics: async () => {
        metrics.connectedSockets.set(sockets?.connectedCount() ?? 0);
        metrics.queueDepth.set(await queue.depth());
        // Cluster-wide gauges come from the latest scan, whichever instance led it.
        const scan = await scheduler.latestScan();
        if (scan !== null) metrics.setScan(scan);
        return metrics.render();
      },
      extraRoutes: async (app) => {
        if (faults !== undefined) registerFaultRoutes(app, faults);
        await options.extraRoutes?.(app);
      },
      disconnectShareLinks: async (linkIds) => sockets?.disconnectShareLinks(linkIds),
    });
    if (io !== undefined && sockets !== undefined) {
      attachSocketServer(io, http.server);
      // Presence client ids are claimed as long as their sockets' members live.
      cache.members.startHeartbeat(
        (shardIds) => sockets.refreshPresence(shardIds),
        // This instance's sockets were invisible to the others (its entries were gone): a shard
        // loaded meanwhile by a join elsewhere was announced only there, so these resync now.
        (shardIds) => {
          for (const shardId of shardIds) rooms.reloaded(shardId, true);
        },
      );
      const events = redisManager.getConnection(`${scope}:events`);
      await sockets.relaySaved(events, channel);
      await sockets.relayCheckpoints(events, checkpointsChannel(config.redis.keyPrefix));
    }
    const worker = runWorker
      ? createSyncWorker({
          connection: redisManager.getConnection(`${scope}:worker`),
          config,
          logger: log,
          events: {
            completed: (_result, durationMs) => {
              metrics.syncJobs.inc({ status: 'completed' });
              metrics.syncJobDuration.observe(durationMs / 1000);
            },
            failed: (willRetry) => metrics.syncJobs.inc({ status: willRetry ? 'retried' : 'failed' }),
          },
        })
      : undefined;
    scheduler.start();
    await pruner.start();

    const flush = (shardId: ShardId, flushOptions: { evict?: boolean } = {}) =>
      syncShard(syncDeps, shardId, { evict: flushOptions.evict ?? false });
    // Shutdown, in order: stop accepting (readiness false, 503s), tell sockets to reconnect
    // elsewhere, flush the shards this instance served, stop the scheduler and the worker
    // (after its active jobs), the producer, then Redis and the database.
    let served: ShardId[] = [];
    closeSteps.push([
      'sockets',
      async () => {
        served = cache.members.localShards();
        // The heartbeat stops first: the sockets' leaves below remove their members for good.
        cache.members.close();
        await sockets?.close();
      },
    ]);
    closeSteps.push(['http', () => http.close()]);
    closeSteps.push([
      'flush',
      async () => {
        const results = await Promise.allSettled(served.map((id) => flush(id)));
        const failed = results.filter((r) => r.status === 'rejected');
        if (failed.length > 0) {
          throw new AggregateError(
            failed.map((f) => (f as PromiseRejectedResult).reason),
            `${failed.length} of ${served.length} shards could not be flushed; their edits stay in Redis for the next sync`,
          );
        }
      },
    ]);
    // After the HTTP listener and the sockets: no request waits for a diff or a delete's merge.
    closeSteps.push(['history threads', () => historyThreads.close()]);
    closeSteps.push(['dirty marks', () => cache.marks.close()]);
    closeSteps.push(['shard activity', () => cache.activity.close()]);
    closeSteps.push(['scheduler', () => scheduler.close()]);
    closeSteps.push(['worker', async () => worker?.close()]);
    closeSteps.push(['history', () => pruner.close()]);
    closeSteps.push(['queue', () => queue.close()]);
    closeSteps.push(['redis', () => redisManager.closeScope(scope)]);
    closeSteps.push(['database', () => repository.close()]);

    let closing: Promise<void> | undefined;
    const app: App = {
      instanceId,
      role,
      config,
      auth,
      repository,
      cache,
      shards: shardService,
      sockets,
      scheduler,
      queue,
      pruner,
      metrics,
      http,
      flush,
      async start() {
        await http.listen({ port: config.http.port, host: config.http.host });
        ready = true;
        const { port } = http.server.address() as AddressInfo;
        const url = `http://${config.http.host}:${port}`;
        log.info({ url, role }, 'listening');
        return { port, url };
      },
      close() {
        closing ??= (async () => {
          ready = false;
          await runSteps(closeSteps, log);
          log.info('shutdown complete');
        })();
        return closing;
      },
    };
    return app;
  } catch (error) {
    await runSteps(closeSteps, log).catch(() => undefined);
    await redisManager.closeScope(scope).catch(() => undefined);
    await repository.close().catch(() => undefined);
    throw error;
  }
}
