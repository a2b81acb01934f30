import type { FastifyInstance } from 'fastify';
import type { ShardId } from '@tandem/protocol';
import type { Config, Role } from './config/index.js';
import type { Metrics } from './metrics/index.js';
import type { IShardRepository } from './persistence/index.js';
import type { TemplateRegistry } from './templates/index.js';
import type { AuthService } from './auth/index.js';
import type { ShardCache } from './shard-cache/index.js';
import type { HistoryPruner, SyncQueue, SyncScheduler, SyncShardResult } from './sync-jobs/index.js';
import type { ShardService } from './shards/index.js';
import type { SocketService } from './realtime/index.js';
import type { Faults } from './faults/index.js';

/** What createApp (app.ts) takes and what it returns. */
export type AppOptions = {
  /** Which parts run in this process: `all` (default), `api` (no job processing) or `worker` (jobs only). */
  role?: Role;
  /** Id of this instance in membership keys. Default: a random UUID. */
  instanceId?: string;
  /** Also called after the last member anywhere left a shard (tests observe it). */
  onLastLeave?: (shardId: ShardId) => void;
  /** A prebuilt template registry (tests share one). */
  templates?: TemplateRegistry;
  /** Registers extra routes (the web editor). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
  /** Test-only fault injection (in-process tests); else built when TANDEM_TEST_FAULTS is set. */
  faults?: Faults;
};

export type App = {
  readonly instanceId: string;
  readonly role: Role;
  readonly config: Config;
  readonly auth: AuthService;
  readonly repository: IShardRepository;
  readonly cache: ShardCache;
  readonly shards: ShardService;
  readonly sockets: SocketService | undefined;
  readonly scheduler: SyncScheduler;
  readonly queue: SyncQueue;
  /** Retention of version history (the scheduled prune job). */
  readonly pruner: HistoryPruner;
  readonly metrics: Metrics;
  readonly http: FastifyInstance;
  /** Flushes one shard to the database in this process (shutdown uses it; so can tests). */
  flush(shardId: ShardId, options?: { evict?: boolean }): Promise<SyncShardResult>;
  /** Starts listening; resolves with the bound port. */
  start(): Promise<{ port: number; url: string }>;
  /** Graceful shutdown in the documented order. Idempotent. */
  close(): Promise<void>;
};
