import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ShardId } from '@tandem/protocol';
import type { Config, Role } from './config/index.js';
import type { Logger } from './logging/index.js';
import { RedisManager } from './redis/index.js';
import { createShardRepository, type IShardRepository } from './persistence/index.js';
import { createTemplateRegistry, type TemplateRegistry } from './templates/index.js';
import { createAuthService, type AuthService } from './auth/index.js';
import { ShardCache } from './shard-cache/index.js';
import { ShardService } from './shards/index.js';
import { SocketService } from './realtime/index.js';
import { createHttpServer } from './http/index.js';
import type { FastifyInstance } from 'fastify';

export type AppOptions = {
  /** Which parts run in this process. Default `all`. */
  role?: Role;
  /** Id of this instance in membership keys. Default: a random UUID. */
  instanceId?: string;
  /** Called after the last member anywhere left a shard (the sync module hooks flush-and-evict here). */
  onLastLeave?: (shardId: ShardId) => void;
  /** A prebuilt template registry (tests share one). */
  templates?: TemplateRegistry;
};

export type App = {
  readonly instanceId: string;
  readonly config: Config;
  readonly auth: AuthService;
  readonly repository: IShardRepository;
  readonly cache: ShardCache;
  readonly shards: ShardService;
  readonly sockets: SocketService;
  readonly http: FastifyInstance;
  /** Starts listening; resolves with the bound port. */
  start(): Promise<{ port: number; url: string }>;
  /** Graceful shutdown in the documented order. Idempotent. */
  close(): Promise<void>;
};

/**
 * The composition root: builds every module in dependency order and closes them in reverse.
 * The only place modules are wired together.
 */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  const instanceId = options.instanceId ?? randomUUID();
  const log = logger.child({ instanceId });
  const redisManager = RedisManager.getInstance();
  redisManager.configure({ url: config.redis.url });
  const scope = `app:${instanceId}`;
  const cacheRedis = redisManager.getConnection(`${scope}:default`);
  const pubRedis = redisManager.getConnection(`${scope}:pub`);
  const subRedis = redisManager.getConnection(`${scope}:sub`);

  const repository = createShardRepository(config.database);
  const closeSteps: Array<[string, () => Promise<void>]> = [];
  let ready = false;

  try {
    await repository.migrate();
    const templates = options.templates ?? createTemplateRegistry();
    const auth = createAuthService(config.auth);
    if (config.auth.insecureDev && config.auth.jwtSecret !== undefined && config.auth.jwksUrl === undefined) {
      log.warn(
        'TANDEM_INSECURE_DEV is set: tokens are signed with a publicly known development secret. Never run this in production.',
      );
    }
    const cache = new ShardCache({
      redis: cacheRedis,
      repository,
      logger: log.child({ module: 'shard-cache' }),
      keyPrefix: config.redis.keyPrefix,
      cache: config.cache,
      limits: config.limits,
    });

    // The socket server attaches to Fastify's HTTP server, and the ShardService broadcasts
    // through the socket server: build the HTTP server around a late-bound service.
    let shardService: ShardService | undefined;
    const http = await createHttpServer({
      config: config.http,
      limits: config.limits,
      logger: log,
      auth,
      get shards(): ShardService {
        if (shardService === undefined) throw new Error('ShardService used before it was built');
        return shardService;
      },
      templates,
      isReady: () => ready,
      checkDependencies: async () => {
        await cacheRedis.ping();
      },
    });
    const sockets = new SocketService({
      httpServer: http.server,
      pubClient: pubRedis,
      subClient: subRedis,
      instanceId,
      keyPrefix: config.redis.keyPrefix,
      shardedPubSub: config.redis.shardedPubSub,
      limits: config.limits,
      cache: config.cache,
      logger: log,
      auth,
    });
    shardService = new ShardService({
      repository,
      cache,
      templates,
      logger: log.child({ module: 'shards' }),
      limits: config.limits,
      events: sockets.events,
      onLastLeave: options.onLastLeave ?? (() => undefined),
    });
    sockets.attach(shardService, cache);
    const service = shardService;

    closeSteps.push(['sockets', () => sockets.close()]);
    closeSteps.push(['http', () => http.close()]);
    closeSteps.push(['redis', () => redisManager.closeScope(scope)]);
    closeSteps.push(['database', () => repository.close()]);

    let closing: Promise<void> | undefined;
    const app: App = {
      instanceId,
      config,
      auth,
      repository,
      cache,
      shards: service,
      sockets,
      http,
      async start() {
        await http.listen({ port: config.http.port, host: config.http.host });
        ready = true;
        const { port } = http.server.address() as AddressInfo;
        const url = `http://${config.http.host}:${port}`;
        log.info({ url, role: options.role ?? 'all' }, 'listening');
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

/** Runs close steps in order, continuing past failures and reporting all of them. */
async function runSteps(steps: Array<[string, () => Promise<void>]>, log: Logger): Promise<void> {
  const failures: unknown[] = [];
  for (const [name, step] of steps) {
    try {
      log.info({ step: name }, 'shutdown step');
      await step();
    } catch (error) {
      log.error({ err: error, step: name }, 'shutdown step failed');
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'shutdown finished with failures');
}
