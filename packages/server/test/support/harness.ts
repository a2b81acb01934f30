import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';
import type { ShardSession, TandemClient } from '@tandem/client-sdk';
import {
  connectClient,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type LogCapture,
  type RunningApp,
  type TestAppOptions,
  type TestDatabase,
} from './test-app.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { budgetMs } from './time-budget.js';
import { waitFor } from './wait-for.js';

/** A SYNC_INTERVAL_MS at least this long makes the harness wait for the scheduler's first tick. */
const LONG_SYNC_INTERVAL_MS = 60_000;

/** What a server process of the harness may add to the harness's own env. */
export type HarnessProcessOptions = {
  args?: string[];
  env?: Record<string, string>;
  entry?: 'source' | 'dist';
};

export type Harness = {
  readonly prefix: string;
  readonly db: TestDatabase;
  readonly apps: RunningApp[];
  /** The server processes started by `processes` and `startProcess`, in start order. */
  readonly processes: ServerProcess[];
  /** The URL of instance `i` (modulo the number of instances). */
  url(i?: number): string;
  /** A connected SDK client on instance `i`, or at a URL (a proxy, a server process); closed after the file. */
  client(target?: number | string, token?: string): Promise<TandemClient>;
  /**
   * Starts a server process on the harness's prefix and database (with the harness's env, then
   * `options.env`); it is stopped after the file (SIGTERM, then SIGKILL) unless the test did already.
   */
  startProcess(options?: HarnessProcessOptions): Promise<ServerProcess>;
  /** A new client on instance `i` joined to the shard. */
  session(shardId: string, i?: number): Promise<ShardSession>;
};

/**
 * Registers beforeAll/afterAll hooks that start `instances` in-process app instances and
 * `processes` server processes, all sharing one Redis prefix and one fresh database, and close
 * everything (clients, processes, apps, database) afterwards. `env` configures apps and processes
 * alike; `appDatabaseUrl` may reroute the apps' database connection (e.g. through a TcpProxy).
 */
export function useTandem(
  options: {
    instances?: number;
    processes?: number;
    processOptions?: HarnessProcessOptions;
    database?: 'sqlite' | 'postgres';
    appDatabaseUrl?: (url: string) => string | Promise<string>;
    env?: Record<string, string>;
    logs?: LogCapture;
  } & Omit<Partial<TestAppOptions>, 'prefix' | 'databaseUrl'> = {},
): Harness {
  const {
    instances = 1,
    processes: processCount = 0,
    processOptions = {},
    database = 'sqlite',
    appDatabaseUrl = (url: string) => url,
    ...appOptions
  } = options;
  const prefix = uniquePrefix();
  const apps: RunningApp[] = [];
  const processes: ServerProcess[] = [];
  const clients: TandemClient[] = [];
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(database);
    const databaseUrl = await appDatabaseUrl(db.url);
    for (let i = 0; i < instances; i++) apps.push(await startTestApp({ ...appOptions, prefix, databaseUrl }));
    // A scheduler ticks first 100 ms after its start, then every SYNC_INTERVAL_MS. A file that sets
    // a long interval means "no sync runs on its own": on a loaded machine the first tick could
    // come late enough to sync what the first test just wrote, so it is waited for here.
    if (apps.length > 0 && Number(appOptions.env?.SYNC_INTERVAL_MS ?? 0) >= LONG_SYNC_INTERVAL_MS) {
      await waitFor(
        () => apps.some((a) => a.app.scheduler.lastScan !== undefined),
        budgetMs(10_000),
        "the scheduler's first tick",
      );
    }
    await Promise.all(Array.from({ length: processCount }, () => harness.startProcess(processOptions)));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(processes.map(stopProcess));
    for (const a of apps) await a.app.close();
    await db?.drop();
  });

  const harness: Harness = {
    prefix,
    get db(): TestDatabase {
      if (db === undefined) throw new Error('the harness database is created in beforeAll');
      return db;
    },
    apps,
    processes,
    url: (i = 0) => apps[i % apps.length]!.url,
    async client(target = 0, token?: string) {
      const c = await connectClient(typeof target === 'string' ? target : harness.url(target), token);
      clients.push(c);
      return c;
    },
    async startProcess({ args, env, entry } = {}) {
      const proc = await startServerProcess({
        prefix,
        databaseUrl: harness.db.url,
        ...(args === undefined ? {} : { args }),
        ...(entry === undefined ? {} : { entry }),
        env: { ...appOptions.env, ...env },
      });
      processes.push(proc);
      return proc;
    },
    async session(shardId, i = 0) {
      return (await harness.client(i)).join(shardId);
    },
  };
  return harness;
}

/** SIGTERM (a clean shutdown leaves no keys behind), then SIGKILL if it does not exit in time. */
async function stopProcess(proc: ServerProcess): Promise<void> {
  const exited = proc.kill('SIGTERM').then(() => 'exited' as const);
  const giveUp = new AbortController();
  const timedOut = sleep(budgetMs(10_000), 'timeout' as const, { signal: giveUp.signal }).catch(
    () => 'exited' as const,
  );
  const outcome = await Promise.race([exited, timedOut]);
  giveUp.abort();
  if (outcome === 'timeout') await proc.kill('SIGKILL');
}
