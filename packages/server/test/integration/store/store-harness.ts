import { pino } from 'pino';
import type { Cluster, Redis } from 'ioredis';
import type { FileId, RestoredEvent, ShardId, TreeChange } from '@tandem/protocol';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../../src/config/index.js';
import { createShardRepository, type IShardRepository, type StoredFile } from '../../../src/persistence/index.js';
import {
  createShardCache,
  FileStateVectors,
  newFileId,
  stateFromText,
  type ShardCache,
} from '../../../src/shard-cache/index.js';
import { shardKeys, type ShardKeys } from '../../../src/redis/index.js';
import { createHistoryThreads, ShardService, type ShardEvents } from '../../../src/shards/index.js';
import {
  recordCheckpoint,
  syncShard,
  SyncScheduler,
  type SyncQueue,
  type SyncShardDeps,
} from '../../../src/sync-jobs/index.js';
import type { Principal } from '../../../src/auth/index.js';
import { createTestDatabase, testConfig, testTemplates, type TestDatabase } from '../../support/test-app.js';
import { createTestRedis, testRedisKeys, uniquePrefix } from '../../support/services.js';

/** What the service broadcast (the room), recorded in order. */
export type Broadcast =
  | { kind: 'edited'; shardId: ShardId; fileId: FileId; version: number }
  | { kind: 'tree'; shardId: ShardId; change: TreeChange; version: number }
  | { kind: 'reloaded'; shardId: ShardId }
  | ({ kind: 'restored' } & RestoredEvent);

/**
 * The store on its own: a ShardCache and a ShardService over the test Redis and a temporary
 * SQLite database, with a recorder in place of the socket rooms. No HTTP, no sockets, no
 * scheduler: the scripts run in milliseconds.
 */
export type Store = {
  prefix: string;
  config: Config;
  redis: Redis | Cluster;
  repository: IShardRepository;
  cache: ShardCache;
  shards: ShardService;
  broadcasts: Broadcast[];
  /** Shards the service asked to sync at once (a write refused for the shard's backlog), in order. */
  backlogs: ShardId[];
  admin: Principal;
  keys(shardId: ShardId): ShardKeys;
  /** Redis loses every key of the shard (FLUSHALL, a failover to a replica without them). */
  lose(shardId: ShardId): Promise<void>;
  /** Saves a shard with these files (path → text) in the database; not loaded yet. */
  seed(files: Record<string, string>): Promise<ShardId>;
  /** Saves a shard with these files and loads it into Redis. */
  open(files: Record<string, string>): Promise<ShardId>;
  /** The id of the file at `path` in the cached tree (throws when there is none). */
  idOf(shardId: ShardId, path: string): Promise<FileId>;
  /** What a sync job gets (no publishing), over this store's cache and database. */
  syncDeps: SyncShardDeps;
  close(): Promise<void>;
};

/**
 * `redis`: a connection to use instead of the test Redis (closed by close()); `database`: SQLite
 * (a temporary file) unless PostgreSQL (a schema of its own) is asked for.
 */
export async function createStore(
  env: Record<string, string> = {},
  options: { redis?: Redis | Cluster; database?: 'sqlite' | 'postgres' } = {},
): Promise<Store> {
  const prefix = uniquePrefix();
  const db: TestDatabase = await createTestDatabase(options.database ?? 'sqlite');
  const config = testConfig(prefix, db.url, env);
  const redis = options.redis ?? createTestRedis();
  const repository = createShardRepository(config.database);
  await repository.migrate();
  const logger = pino({ level: 'silent' });
  const cache = createShardCache({
    redis,
    repository,
    logger,
    keyPrefix: prefix,
    instanceId: 'store-test',
    cache: config.cache,
    limits: config.limits,
  });
  const broadcasts: Broadcast[] = [];
  const backlogs: ShardId[] = [];
  const events: ShardEvents = {
    fileEdited: (shardId, fileId, _update, version) => broadcasts.push({ kind: 'edited', shardId, fileId, version }),
    treeChanged: (shardId, change, version) => broadcasts.push({ kind: 'tree', shardId, change, version }),
    reloaded: (shardId) => broadcasts.push({ kind: 'reloaded', shardId }),
    restored: (event) => broadcasts.push({ kind: 'restored', ...event }),
    deleted: () => undefined,
    renamed: () => undefined,
  };
  const syncDeps: SyncShardDeps = {
    store: cache.sync,
    repository,
    logger,
    publishSaved: async () => undefined,
    publishCheckpoint: async () => undefined,
    dependenciesOf: () => null,
    authors: cache.authors,
    historyIntervalMs: config.history.intervalMs,
  };
  const flush = async (shardId: ShardId): Promise<void> => {
    await syncShard(syncDeps, shardId, { evict: false });
  };
  const threads = createHistoryThreads();
  const shards = new ShardService({
    repository,
    cache,
    stateVectors: new FileStateVectors({ redis, keyPrefix: prefix }),
    templates: testTemplates(),
    logger,
    limits: config.limits,
    events,
    onLastLeave: () => undefined,
    onBacklog: (shardId) => backlogs.push(shardId),
    flush,
    threads,
    announceCheckpoint: async () => undefined,
    checkpointNow: async (shardId, options) => {
      await flush(shardId);
      return recordCheckpoint(syncDeps, shardId, options);
    },
  });
  const admin: Principal = {
    userId: 'admin',
    name: 'admin',
    role: 'admin',
    shards: {},
    canCreate: true,
    expiresAtMs: null,
  };
  const store: Store = {
    prefix,
    config,
    redis,
    repository,
    cache,
    shards,
    broadcasts,
    backlogs,
    admin,
    keys: (shardId) => shardKeys(prefix, shardId),
    lose: async (shardId) => {
      const keys = await redis.keys(`${shardKeys(prefix, shardId).meta.slice(0, -':meta'.length)}:*`);
      if (keys.length > 0) await redis.del(...keys);
    },
    syncDeps,
    async open(files) {
      const shardId = await store.seed(files);
      await cache.loader.ensureLoaded(shardId);
      return shardId;
    },
    async idOf(shardId, path) {
      const file = (await cache.files.tree(shardId)).find((f) => f.path === path);
      if (file === undefined) throw new Error(`no ${path}`);
      return file.id;
    },
    async seed(files) {
      const now = new Date();
      const id = randomUUID() as ShardId;
      const stored: StoredFile[] = Object.entries(files).map(([path, content]) => ({
        id: newFileId(),
        path,
        content,
        ydocState: stateFromText(content),
        version: 0,
        updatedAt: now,
      }));
      await repository.save({
        id,
        name: 'store test',
        ownerId: null,
        templateId: 'vanilla',
        templateRevision: 1,
        dependencies: {},
        devDependencies: {},
        createdAt: now,
        updatedAt: now,
        lastSyncTimestamp: 0,
        files: stored,
      });
      return id;
    },
    async close() {
      for (const key of await testRedisKeys(redis, `${prefix}:*`)) await redis.del(key);
      redis.disconnect();
      await threads.close();
      await repository.close();
      await db.drop();
    },
  };
  return store;
}

/**
 * A scheduler over the store's cache and `queue` that never evicts nor runs a backstop full scan
 * by itself (both an hour away) unless `options` says otherwise. Not started: tests call tick().
 */
export function createScheduler(
  store: Store,
  queue: SyncQueue,
  options: Partial<ConstructorParameters<typeof SyncScheduler>[0]> = {},
): SyncScheduler {
  return new SyncScheduler({
    redis: store.redis,
    sync: store.cache.sync,
    members: store.cache.members,
    marks: store.cache.marks,
    queue,
    logger: pino({ level: 'silent' }),
    keyPrefix: store.prefix,
    jobs: store.config.jobs,
    evictGraceMs: 3_600_000,
    fullScanMs: 3_600_000,
    ...options,
  });
}
