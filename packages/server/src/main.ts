#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { loadConfig, withDevSecret, type Config, type Role } from './config/index.js';
import { createLogger, type Logger } from './logging/index.js';
import { createApp } from './app.js';
import { createAuthService, loadOrCreateDevSecret } from './auth/index.js';
import { createShardRepository } from './persistence/index.js';
import { createRedisConnection, RedisManager } from './redis/index.js';
import { toAppError } from './errors/index.js';
import { createWebRoutes, defaultWebDistDir, hasWebDist } from './web/index.js';
import { isClusterPrimary, runClusterPrimary, takeWorkersFlag } from './cluster-primary.js';

const USAGE = `usage: tandem <command> [options]

commands:
  serve [--role all|api|worker] [--insecure-dev] [--workers [N|auto]]
                                  start the server (default role: all); --insecure-dev runs
                                  without AUTH_JWT_SECRET, with a secret generated once per data
                                  directory, and serves admin tokens to its own pages on
                                  localhost (development only; refused with AUTH_JWT_SECRET set);
                                  --workers runs N server processes on one port (default: one
                                  per core; websocket transport, no sticky sessions)
  migrate                         create or upgrade the database schema, then exit
  token [--sub ID] [--name NAME] [--role admin|user] [--shard ID=read|write ...] [--create] [--ttl SECONDS]
                                  print a signed access token (needs AUTH_JWT_SECRET, or
                                  TANDEM_INSECURE_DEV: then signed with the development secret
                                  of the data directory)

configuration comes from environment variables; see .env.example`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'migrate':
      return migrate();
    case 'token':
      return token(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

function readConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = loadConfig(env);
  // Development mode signs with a secret of its own data directory, never a public constant.
  if (!config.auth.insecureDev || config.auth.devSecretFile === undefined) return config;
  return withDevSecret(config, loadOrCreateDevSecret(config.auth.devSecretFile));
}

async function serve(rawArgs: string[]): Promise<number> {
  // serve --workers N: see cluster-primary.ts (the primary supervises, each worker serves).
  const { workers, args } = takeWorkersFlag(rawArgs);
  const { values } = parseArgs({
    args,
    options: { role: { type: 'string', default: 'all' }, 'insecure-dev': { type: 'boolean', default: false } },
    strict: true,
  });
  const role = values.role as Role;
  if (!['all', 'api', 'worker'].includes(role)) throw new Error(`--role must be all, api or worker (got "${role}")`);
  const config = readConfig(values['insecure-dev'] ? { ...process.env, TANDEM_INSECURE_DEV: 'true' } : process.env);
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
  await ensureRedis(config, logger);
  if (workers > 1 && isClusterPrimary()) {
    return runClusterPrimary({ workers, logger, shutdownTimeoutMs: config.shutdown.timeoutMs });
  }
  const extraRoutes = role === 'worker' ? undefined : webRoutes(config, logger);
  const app = await createApp(config, logger, { role, ...(extraRoutes === undefined ? {} : { extraRoutes }) });
  let stopping = false;
  const shutdown = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.fatal({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdown.timeoutMs);
    deadline.unref();
    app
      .close()
      .then(() => RedisManager.getInstance().closeAll())
      .then(
        () => process.exit(code),
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    shutdown('uncaughtException', 1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    shutdown('unhandledRejection', 1);
  });
  await app.start();
  return -1;
}

/** The browser editor's routes when WEB_ENABLED and the editor is built; otherwise the API only. */
function webRoutes(config: Config, logger: Logger): ReturnType<typeof createWebRoutes> | undefined {
  if (!config.http.webEnabled) return undefined;
  const distDir = defaultWebDistDir();
  if (!hasWebDist(distDir)) {
    logger.warn({ distDir }, 'the web editor is not built (npm run build -w @tandem/web-editor); serving the API only');
    return undefined;
  }
  return createWebRoutes({
    distDir,
    previewCdnUrl: config.http.previewCdnUrl,
    ...(config.auth.insecureDev ? { devTokenAuth: createAuthService(config.auth) } : {}),
  });
}

/**
 * Checks Redis before anything else so a missing Redis is one clear line, not a stack trace.
 * In development (REDIS_URL unset) a locally installed redis-server is started if none answers.
 */
async function ensureRedis(config: Config, logger: Logger): Promise<void> {
  const clusterNodes = config.redis.clusterNodes;
  if (clusterNodes !== undefined) {
    if (await pingCluster(config)) return;
    throw new Error(
      `no healthy Redis Cluster (cluster_state:ok) at REDIS_CLUSTER_NODES=${clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}. Start the cluster (scripts/redis-cluster.sh start for a local one) or fix REDIS_CLUSTER_NODES.`,
    );
  }
  if (await pingRedis(config.redis.url)) return;
  if (process.env['REDIS_URL'] === undefined && hasRedisServer()) {
    logger.warn('no Redis at the default REDIS_URL; starting a local redis-server for development');
    const port = new URL(config.redis.url).port || '6379';
    spawnSync(
      'redis-server',
      ['--daemonize', 'yes', '--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 50; i++) {
      if (await pingRedis(config.redis.url)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(
    `Redis is not reachable at REDIS_URL=${redactUrl(config.redis.url)}. Start Redis (redis-server) or set REDIS_URL to a reachable server.`,
  );
}

async function pingRedis(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    // Unreachable: the caller explains what to do.
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Whether the cluster answers and reports `cluster_state:ok` (every slot served). */
async function pingCluster(config: Config): Promise<boolean> {
  const cluster = createRedisConnection(config.redis, 'tandem:startup-check', {
    redisOptions: { maxRetriesPerRequest: 0, connectTimeout: 2000 },
    clusterOptions: { lazyConnect: true, clusterRetryStrategy: () => null },
  });
  cluster.on('error', () => undefined);
  try {
    await cluster.connect();
    const info = await cluster.cluster('INFO');
    return /cluster_state:ok/.test(info);
  } catch {
    // Unreachable or not a cluster: the caller explains what to do.
    return false;
  } finally {
    cluster.disconnect();
  }
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

async function migrate(): Promise<number> {
  const config = loadConfig(process.env);
  const repository = createShardRepository(config.database);
  try {
    await repository.migrate();
    process.stdout.write(`database schema is up to date (${config.database.kind})\n`);
    return 0;
  } finally {
    await repository.close();
  }
}

async function token(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: 'string', default: 'dev' },
      name: { type: 'string' },
      role: { type: 'string', default: 'admin' },
      shard: { type: 'string', multiple: true },
      create: { type: 'boolean', default: false },
      ttl: { type: 'string' },
    },
    strict: true,
  });
  const config = readConfig();
  const auth = createAuthService(config.auth);
  const grants = new Map<string, 'read' | 'write'>();
  for (const grant of values.shard ?? []) {
    const [id, access] = grant.split('=');
    if (id === undefined || (access !== 'read' && access !== 'write'))
      throw new Error(`--shard takes ID=read or ID=write (got "${grant}")`);
    grants.set(id, access);
  }
  const shards = Object.fromEntries(grants);
  if (values.role !== 'admin' && values.role !== 'user') throw new Error('--role must be admin or user');
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  const jwt = await auth.mint(
    { sub: values.sub, name: values.name ?? values.sub, role: values.role, shards, create: values.create },
    ttl,
  );
  process.stdout.write(`${jwt}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const appError = toAppError(error);
    const message = appError.code === 'INTERNAL' && error instanceof Error ? error.message : appError.message;
    process.stderr.write(`tandem: ${message}\n`);
    process.exitCode = 1;
  },
);
