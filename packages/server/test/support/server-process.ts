import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import { TEST_JWT_SECRET } from './test-app.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from './services.js';
import { serverStartBudgetMs } from './time-budget.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A Tandem server in its own process (so a test can kill -9 it). */
export type ServerProcess = {
  child: ChildProcess;
  url: string;
  port: number;
  /** The configuration the process loaded from its environment (for deriving time bounds). */
  config: Config;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
};

export async function startServerProcess(options: {
  prefix: string;
  databaseUrl: string;
  args?: string[];
  env?: Record<string, string>;
  /** Run the TypeScript sources through tsx (default) or the built output in dist/. */
  entry?: 'source' | 'dist';
}): Promise<ServerProcess> {
  const entry =
    options.entry === 'dist'
      ? ['packages/server/dist/main.js']
      : ['--conditions=source', '--import', 'tsx', 'packages/server/src/main.ts'];
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: options.prefix,
    DATABASE_URL: options.databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    // JSON lines (the port is read from them), also for --insecure-dev, whose default is human lines.
    LOG_PRETTY: 'false',
    WEB_ENABLED: 'false',
    CACHE_MEMBER_TTL_MS: '2000',
    CACHE_HEARTBEAT_MS: '500',
    CACHE_EVICT_GRACE_MS: '200',
    SYNC_INTERVAL_MS: '200',
    // The suite's time budgets for a sync assume the sync threads get their share of a machine
    // that runs several test files at once; production's nice 10 is tested on its own
    // (sync-worker.test.ts).
    SYNC_THREAD_NICE: '0',
    ...(TEST_REDIS_CLUSTER_NODES === undefined ? {} : { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES }),
    ...options.env,
  };
  const child = spawn(process.execPath, [...entry, 'serve', ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  const workersAt = options.args?.indexOf('--workers') ?? -1;
  const startTimeoutMs = serverStartBudgetMs(workersAt < 0 ? 1 : Number(options.args?.[workersAt + 1]) || 2);
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${startTimeoutMs} ms:\n${out}`));
    }, startTimeoutMs);
    const onData = () => {
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolvePort(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    config: loadConfig(env),
    output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
