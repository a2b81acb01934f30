#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadConfig, withDevSecret, type Config, type Role } from './config/index.js';
import type { Logger } from './logging/index.js';
import type * as Web from './web/index.js';
import { createAuthService, loadOrCreateDevSecret } from './auth/index.js';
import { toAppError } from './errors/index.js';
import { clusterWorkerId, isClusterPrimary, runClusterPrimary, takeWorkersFlag } from './cluster-primary.js';
import { insecureDevBlock, readyLine } from './startup-banner.js';

/**
 * The server's own modules (app, persistence, Redis, web) are imported by the command that needs
 * them: loading them all takes over a second, which `--help` and `token` should not wait for.
 */
const loadServer = () =>
  Promise.all([import('./app.js'), import('./logging/index.js'), import('./redis/index.js'), import('./web/index.js')]);

const SERVE_USAGE = `usage: tandem serve [--role all|api|worker] [--insecure-dev] [--workers [N|auto]]

Starts the server: REST API, sockets, the sync worker and (when built) the web editor.

  --role all|api|worker   all (default) serves and processes sync jobs; api serves without
                          processing jobs; worker only processes them
  --insecure-dev          development mode: no AUTH_JWT_SECRET needed; tokens are signed with a
                          secret generated once per data directory (data/dev-secret), and the
                          web editor gets an admin token from GET /dev/token on localhost.
                          Never in production; refused when AUTH_JWT_SECRET is set
  --workers [N|auto]      N server processes on one port (node:cluster; default: one per core;
                          websocket transport, no sticky sessions)
  -h, --help              show this help`;

const MIGRATE_USAGE = `usage: tandem migrate

Creates or upgrades the database schema (DATABASE_URL), then exits. serve does it at every start.

  -h, --help              show this help`;

const TOKEN_USAGE = `usage: tandem token [--sub ID] [--name NAME] [--role admin|user] [--shard ID=read|write ...]
                   [--create] [--ttl SECONDS]

Prints a signed access token (a JWT) for the REST API and sockets.

  --sub ID                the user id (default: dev)
  --name NAME             the name others see (default: the user id)
  --role admin|user       admin may do anything (default: admin)
  --shard ID=read|write   access to one shard; repeat for more
  --create                may create shards
  --ttl SECONDS           lifetime (default: AUTH_TOKEN_TTL_SECONDS, 7 days)
  -h, --help              show this help

Signs with AUTH_JWT_SECRET. Without it, in a development setup (after \`npm start\`), it signs with
the development secret of the data directory (data/dev-secret), which the development server
accepts; TANDEM_INSECURE_DEV=true creates that secret if it does not exist yet.`;

const USAGE = `usage: tandem <command> [options]

commands:
  serve [--role all|api|worker] [--insecure-dev] [--workers [N|auto]]
                                  start the server
  migrate                         create or upgrade the database schema, then exit
  token [--sub ID] [--role admin|user] [--shard ID=read|write ...] [--create] [--ttl SECONDS]
                                  print a signed access token

\`tandem <command> --help\` explains a command's options.
configuration comes from environment variables; see .env.example`;

const COMMAND_USAGE: Record<string, string> = { serve: SERVE_USAGE, migrate: MIGRATE_USAGE, token: TOKEN_USAGE };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const commandUsage = command === undefined ? undefined : COMMAND_USAGE[command];
  if (commandUsage !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${commandUsage}\n`);
    return 0;
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'migrate':
      return migrate(rest);
    case 'token':
      return token(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      const topic = rest[0] === undefined ? undefined : COMMAND_USAGE[rest[0]];
      process.stdout.write(`${topic ?? USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
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
  const [{ createApp }, { createLogger }, { RedisManager }, web] = await loadServer();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty });
  await ensureRedis(config, logger);
  if (workers > 1 && isClusterPrimary()) {
    return runClusterPrimary({ workers, logger, shutdownTimeoutMs: config.shutdown.timeoutMs });
  }
  // The preview origin listens before the editor is served, so its port is known to config.json.
  const previewHost =
    role === 'worker' || !config.http.webEnabled
      ? undefined
      : await web.startPreviewHost({ host: config.http.host, port: config.http.previewPort });
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    const extraRoutes = role === 'worker' ? undefined : webRoutes(web, config, logger, previewHost?.port ?? 0);
    app = await createApp(config, logger, { role, ...(extraRoutes === undefined ? {} : { extraRoutes }) });
  } catch (error) {
    // A listening preview origin would keep the process alive after the error.
    await previewHost?.close();
    throw error;
  }
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
      .then(() => previewHost?.close())
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
  let port: number;
  try {
    ({ port } = await app.start());
  } catch (error) {
    await previewHost?.close();
    throw error;
  }
  announce(config, port, logger);
  return -1;
}

/**
 * Tells people the server is up. In human mode (development) the development warning is one
 * framed block and the last line is `Tandem is running at <url>`; in JSON mode (production) the
 * warning is a log record (app.ts logs the `listening` record with the url). With --workers, the
 * first worker speaks for all.
 */
function announce(config: Config, port: number, logger: Logger): void {
  const workerId = clusterWorkerId();
  if (workerId !== undefined && workerId !== 1) return;
  const secretFile = config.auth.devSecretFile;
  if (!config.log.pretty) {
    if (config.auth.insecureDev)
      logger.warn(
        { secretFile },
        "TANDEM_INSECURE_DEV is set: GET /dev/token hands admin tokens to this server's pages on a loopback address. Never run this in production.",
      );
    return;
  }
  if (config.auth.insecureDev) {
    const color = process.stderr.isTTY && process.stderr.hasColors();
    process.stderr.write(`\n${insecureDevBlock({ secretFile, color })}\n\n`);
  }
  process.stdout.write(`${readyLine(config.http.host, port)}\n`);
}

/** The browser editor's routes when WEB_ENABLED and the editor is built; otherwise the API only. */
function webRoutes(
  web: typeof Web,
  config: Config,
  logger: Logger,
  previewPort: number,
): ReturnType<(typeof web)['createWebRoutes']> | undefined {
  if (!config.http.webEnabled) return undefined;
  const distDir = web.defaultWebDistDir();
  if (!web.hasWebDist(distDir)) {
    logger.warn({ distDir }, 'the web editor is not built (npm run build -w @tandem/web-editor); serving the API only');
    return undefined;
  }
  return web.createWebRoutes({
    distDir,
    previewCdnUrl: config.http.previewCdnUrl,
    preview: config.http.previewOrigin === undefined ? { port: previewPort } : { origin: config.http.previewOrigin },
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
  const { Redis } = await import('ioredis');
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
  const { createRedisConnection } = await import('./redis/index.js');
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

async function migrate(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const config = loadConfig(process.env);
  const { createShardRepository } = await import('./persistence/index.js');
  const repository = createShardRepository(config.database);
  try {
    await repository.migrate();
    process.stdout.write(`database schema is up to date (${config.database.kind})\n`);
    return 0;
  } finally {
    await repository.close();
  }
}

/**
 * The configuration `token` signs with: AUTH_JWT_SECRET (or TANDEM_INSECURE_DEV) when set. In a
 * development setup without them, the development secret that `npm start` (serve --insecure-dev)
 * generated in the data directory: the token is then accepted by that development server and by
 * nothing else. It never creates that secret by itself (TANDEM_INSECURE_DEV=true does).
 */
function tokenConfig(): Config {
  const config = readConfig();
  if (config.auth.jwtSecret !== undefined || config.auth.jwksUrl !== undefined || config.auth.insecureDev)
    return config;
  const dev = loadConfig({ ...process.env, TANDEM_INSECURE_DEV: 'true' });
  const secretFile = dev.auth.devSecretFile;
  if (secretFile === undefined || !existsSync(secretFile)) {
    throw new Error(
      `no signing secret: set AUTH_JWT_SECRET, or start the development server once (npm start) in this folder so that it creates ${secretFile ?? 'data/dev-secret'}, or set TANDEM_INSECURE_DEV=true`,
    );
  }
  process.stderr.write(
    `tandem: signed with the development secret in ${secretFile} (accepted only by the development server)\n`,
  );
  return withDevSecret(dev, loadOrCreateDevSecret(secretFile));
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
  const auth = createAuthService(tokenConfig().auth);
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
    // parseArgs refused an option: say where the options are explained.
    const code = (error as { code?: unknown } | null)?.code;
    const command = process.argv[2];
    const hint =
      typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') && command !== undefined && command in COMMAND_USAGE
        ? ` (see: tandem ${command} --help)`
        : '';
    process.stderr.write(`tandem: ${message}${hint}\n`);
    process.exitCode = 1;
    // A server that failed to start may still hold connections or timers (Redis, a database
    // handle being retried) that keep the process alive: a cluster worker that never listens
    // and never exits is neither restarted by its primary nor noticed. The message is written;
    // leave after a moment for it to drain.
    setTimeout(() => process.exit(1), 500).unref();
  },
);
