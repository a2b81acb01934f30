import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { processTree } from '../proc.js';
import { freePort, spawnServer, waitForHttp, type Spawned } from './processes.js';
import { BENCH_JWT_SECRET } from './jwt.js';

export type TargetKind = 'tandem' | 'relay' | 'hocuspocus';

/** Servers of one target, started for one scenario and stopped after it. */
export type Deployment = {
  kind: TargetKind;
  /** A label for reports, e.g. "tandem ×2", "tandem --workers 2", "hocuspocus+redis ×2". */
  label: string;
  /** One URL per instance; clients are spread over them round-robin. */
  urls: string[];
  /** Server pids (including cluster workers), for CPU and RSS. */
  pids(): number[];
  stop(): Promise<void>;
};

export type BenchEnv = {
  redisUrl: string;
  /** Key prefix of this bench run; each deployment adds its own part. */
  prefix: string;
  /** Extra node flags for server processes (e.g. --cpu-prof). */
  nodeFlags: string[];
  /** Pin server processes to these CPUs (`taskset -c` list); undefined: not pinned. */
  serverCpus?: string | undefined;
  /** Extra environment of every Tandem server process (--tandem-env), after the bench's own. */
  tandemEnv?: Record<string, string> | undefined;
};

export type TandemDeployment = Deployment & {
  kind: 'tandem';
  prefix: string;
  databaseUrl: string;
  /** /metrics of instance i, as text. */
  metrics(i?: number): Promise<string>;
  /** The last of what the server processes logged (LOG_LEVEL warn), for an error message. */
  logs(): string;
};

/**
 * Tandem from its build (packages/server/dist): `instances` processes on their own ports, or one
 * `serve --workers N` process (node:cluster) when `workers` is given. All share the machine's
 * Redis (under a unique prefix) and one temp SQLite database, or the database at `databaseUrl`
 * (the caller creates and drops it).
 */
export async function startTandem(
  env: BenchEnv,
  options: {
    instances?: number;
    workers?: number;
    name: string;
    serverEnv?: Record<string, string>;
    databaseUrl?: string;
  },
): Promise<TandemDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(dir, 'db.sqlite')}`;
  const prefix = `${env.prefix}:${options.name}`;
  const instances = options.workers === undefined ? (options.instances ?? 1) : 1;
  const processes: Spawned[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      const port = await freePort();
      const args = [...env.nodeFlags, 'packages/server/dist/main.js', 'serve'];
      if (options.workers !== undefined) args.push('--workers', String(options.workers));
      const spawned = spawnServer(
        `tandem-${i}`,
        args,
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          REDIS_URL: env.redisUrl,
          REDIS_KEY_PREFIX: prefix,
          DATABASE_URL: databaseUrl,
          AUTH_JWT_SECRET: BENCH_JWT_SECRET,
          LOG_LEVEL: 'warn',
          WEB_ENABLED: 'false',
          ...options.serverEnv,
          ...env.tandemEnv,
        },
        env.serverCpus,
      );
      processes.push(spawned);
      urls.push(`http://127.0.0.1:${port}`);
      // One at a time: the first one migrates the database.
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, spawned);
    }
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const label =
    options.workers !== undefined
      ? `tandem --workers ${options.workers}`
      : instances === 1
        ? 'tandem'
        : `tandem ×${instances}`;
  return {
    kind: 'tandem',
    label,
    urls,
    prefix,
    databaseUrl,
    pids: () => processes.flatMap((p) => processTree(p.pid)),
    metrics: async (i = 0) => (await fetch(`${urls[i]}/metrics`)).text(),
    logs: () => processes.map((p) => `${p.name}:\n${p.output().slice(-8_000)}`).join('\n'),
    stop: async () => {
      await Promise.all(processes.map((p) => p.stop()));
      await deleteKeys(env.redisUrl, prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The in-memory y-websocket relay (one process; it cannot share rooms between instances). */
export async function startRelay(env: BenchEnv): Promise<Deployment> {
  const port = await freePort();
  const spawned = spawnServer(
    'relay',
    [...env.nodeFlags, 'packages/bench/src/servers/relay-server.mjs'],
    { PORT: String(port) },
    env.serverCpus,
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, spawned);
  return {
    kind: 'relay',
    label: 'y-websocket relay',
    urls: [`ws://127.0.0.1:${port}`],
    pids: () => processTree(spawned.pid),
    stop: () => spawned.stop(),
  };
}

/** Hocuspocus: one instance, or several joined by its Redis extension. */
export async function startHocuspocus(
  env: BenchEnv,
  options: { instances?: number; name: string; persist?: boolean },
): Promise<Deployment> {
  const instances = options.instances ?? 1;
  const prefix = `${env.prefix}:${options.name}`;
  // One SQLite file shared by the instances (WAL), as their one database would be.
  const dbDir = options.persist === true ? mkdtempSync(join(tmpdir(), 'bench-hocuspocus-')) : undefined;
  const processes: Spawned[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      const port = await freePort();
      const spawned = spawnServer(
        `hocuspocus-${i}`,
        [...env.nodeFlags, 'packages/bench/src/servers/hocuspocus-server.mjs'],
        {
          PORT: String(port),
          ...(instances > 1 ? { REDIS_URL: env.redisUrl, REDIS_PREFIX: prefix } : {}),
          ...(dbDir === undefined ? {} : { SQLITE_PATH: join(dbDir, 'hocuspocus.sqlite') }),
        },
        env.serverCpus,
      );
      processes.push(spawned);
      urls.push(`ws://127.0.0.1:${port}`);
      await waitForHttp(`http://127.0.0.1:${port}/`, spawned);
    }
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop()));
    throw error;
  }
  return {
    kind: 'hocuspocus',
    label: `${instances === 1 ? 'hocuspocus' : `hocuspocus+redis ×${instances}`}${dbDir === undefined ? '' : ' +SQLite'}`,
    urls,
    pids: () => processes.flatMap((p) => processTree(p.pid)),
    stop: async () => {
      await Promise.all(processes.map((p) => p.stop()));
      if (instances > 1) await deleteKeys(env.redisUrl, prefix);
      if (dbDir !== undefined) rmSync(dbDir, { recursive: true, force: true });
    },
  };
}

/** Removes every key a deployment left under its prefix (the machine's Redis is shared). */
export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
