import { randomUUID } from 'node:crypto';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { TcpProxy } from '../test/support/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-app.js';
import { TEST_POSTGRES_URL, TEST_REDIS_CLUSTER_NODES } from '../test/support/services.js';
import { DedicatedRedis } from './redis-server.js';

export type ClusterOptions = {
  /** API instances (`serve --role api`), each behind its own TcpProxy acting as a load balancer. */
  instances: number;
  /** Run the servers from TypeScript sources (tsx) or from the built `dist/`. */
  entry: 'source' | 'dist';
  /** Extra server environment (overrides the suite's defaults). */
  env?: Record<string, string>;
  /** Progress lines. */
  log: (message: string) => void;
};

/** One API instance slot: the balancer stays, the process behind it may be killed and replaced. */
export type InstanceSlot = {
  readonly name: string;
  readonly proxy: TcpProxy;
  process: ServerProcess | undefined;
  /** The running process's name in logs (`api-0`, then `api-0#1` after a restart). */
  label: string;
};

/**
 * Server settings of the suite: production defaults except what makes faults observable in
 * seconds (short job locks and stalled checks so a killed worker's job re-runs quickly; a short
 * eviction grace so joins and leaves race eviction; a short membership TTL so a killed instance's
 * members expire).
 */
export const CHAOS_SERVER_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'info',
  CACHE_MEMBER_TTL_MS: '6000',
  CACHE_HEARTBEAT_MS: '1000',
  CACHE_EVICT_GRACE_MS: '250',
  SYNC_INTERVAL_MS: '1000',
  SYNC_LOCK_DURATION_MS: '3000',
  SYNC_STALLED_INTERVAL_MS: '1500',
  SHUTDOWN_TIMEOUT_MS: '10000',
  // The model scenario arms instances (POST /__test/faults: crash right after a store, drop acks).
  TANDEM_TEST_FAULTS: 'true',
};

/**
 * Everything the chaos suite runs, on loopback only: a dedicated redis-server (AOF, fsync
 * always), a fresh PostgreSQL schema reached through a TcpProxy (so an outage can be injected
 * without touching the machine's PostgreSQL), N API instances each behind its own TcpProxy, and a
 * separate sync worker process. `close()` (or `killNow()` on exit) removes all of it.
 */
export class ChaosCluster {
  readonly prefix = `chaos:${randomUUID().slice(0, 8)}`;
  readonly instances: InstanceSlot[] = [];
  worker: ServerProcess | undefined;
  /** Processes that were killed or replaced: kept for their logs. */
  private readonly retired: Array<{ name: string; process: ServerProcess }> = [];
  private workerGeneration = 0;
  private readonly instanceGeneration = new Map<string, number>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: ClusterOptions,
    readonly redis: DedicatedRedis,
    readonly db: TestDatabase,
    readonly pgProxy: TcpProxy,
  ) {}

  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    if (TEST_REDIS_CLUSTER_NODES !== undefined) {
      // The server processes would talk to that cluster instead of the suite's own Redis.
      throw new Error('the chaos suite runs its own single redis-server; unset TEST_REDIS_CLUSTER_NODES');
    }
    const redis = await DedicatedRedis.start();
    let db: TestDatabase | undefined;
    let pgProxy: TcpProxy | undefined;
    try {
      db = await createTestDatabase('postgres');
      pgProxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
    } catch (error) {
      await pgProxy?.close();
      await db?.drop();
      await redis.close();
      throw error;
    }
    const cluster = new ChaosCluster(options, redis, db, pgProxy);
    ACTIVE.add(cluster);
    try {
      options.log(
        `redis-server :${redis.port} (AOF, appendfsync always) in ${redis.dir}; PostgreSQL via proxy :${pgProxy.port}`,
      );
      // The first instance migrates the fresh schema; the others start in parallel after it.
      const first = await cluster.spawnApi('api-0');
      cluster.instances.push({
        name: 'api-0',
        label: 'api-0',
        proxy: await TcpProxy.start(first.port),
        process: first,
      });
      const rest = await Promise.allSettled(
        Array.from({ length: options.instances - 1 }, async (_, i) => {
          const name = `api-${i + 1}`;
          const process = await cluster.spawnApi(name);
          // Recorded at once, so close() kills it even if a sibling fails to start.
          const slot: InstanceSlot = { name, label: name, proxy: await TcpProxy.start(process.port), process };
          cluster.instances.push(slot);
          return slot;
        }),
      );
      const failed = rest.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      cluster.instances.sort((a, b) => (a.name < b.name ? -1 : 1));
      await cluster.startWorker();
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** The database URL the servers use (through the proxy). */
  get databaseUrl(): string {
    return this.db.url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${this.pgProxy.port}`);
  }

  /** The database URL the checker uses (direct, never cut off). */
  get directDatabaseUrl(): string {
    return this.db.url;
  }

  /** The balancer URL clients of slot `i` connect to. */
  balancerUrl(i: number): string {
    return this.slot(i).proxy.url;
  }

  /** A live instance's own URL (REST calls of the suite). */
  liveUrl(): string {
    const live = this.instances.find((s) => s.process !== undefined);
    if (live?.process === undefined) throw new Error('no live API instance');
    return live.process.url;
  }

  /**
   * kill -9 of one API instance; its balancer is pointed at the next live instance and cuts
   * the connections it still holds, so its clients reconnect there. Returns the new target.
   */
  async killInstance(i: number): Promise<string> {
    const slot = this.slot(i);
    const victim = slot.process;
    if (victim === undefined) throw new Error(`${slot.name} is not running`);
    const target = this.instances.find((s, j) => j !== i && s.process !== undefined);
    if (target?.process === undefined) throw new Error('no other live instance to fail over to');
    // Point the balancer elsewhere first, so no reconnect reaches the dying port.
    slot.proxy.retarget(target.process.port);
    await victim.kill('SIGKILL');
    slot.proxy.dropAll();
    slot.process = undefined;
    this.retired.push({ name: slot.label, process: victim });
    return target.name;
  }

  /** Starts a new process in a slot whose instance was killed and points its balancer back at it. */
  async restartInstance(i: number): Promise<void> {
    const slot = this.slot(i);
    if (slot.process !== undefined) return;
    const generation = (this.instanceGeneration.get(slot.name) ?? 0) + 1;
    this.instanceGeneration.set(slot.name, generation);
    slot.label = `${slot.name}#${generation}`;
    slot.process = await this.spawnApi(slot.label);
    slot.proxy.retarget(slot.process.port);
  }

  async startWorker(): Promise<void> {
    if (this.worker !== undefined) return;
    this.workerGeneration++;
    this.worker = await startServerProcess({
      prefix: this.prefix,
      databaseUrl: this.databaseUrl,
      args: ['--role', 'worker'],
      env: this.env(),
      entry: this.options.entry,
    });
    this.options.log(`worker#${this.workerGeneration} started (pid ${this.worker.child.pid})`);
  }

  /** kill -9 of the sync worker process (its jobs stall and are re-run by the next worker). */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    await worker.kill('SIGKILL');
    this.retired.push({ name: `worker#${this.workerGeneration}`, process: worker });
  }

  /** PostgreSQL becomes unreachable: open connections are cut, new ones refused. */
  cutDatabase(): void {
    this.pgProxy.pause();
  }

  restoreDatabase(): void {
    this.pgProxy.resume();
  }

  /** kill -9 of the dedicated Redis, then a restart on the same port and directory (AOF replay). Returns the downtime in ms. */
  async restartRedis(): Promise<number> {
    const started = performance.now();
    await this.redis.kill9();
    await this.redis.launch();
    return performance.now() - started;
  }

  /** FLUSHALL on the dedicated Redis: the cache, members, queue, everything. */
  async flushRedis(): Promise<void> {
    await this.redis.command((r) => r.flushall());
  }

  /** Every server process's output (live and retired), by name. */
  logs(): Array<{ name: string; output: string }> {
    const out = this.retired.map((r) => ({ name: r.name, output: r.process.output() }));
    for (const slot of this.instances)
      if (slot.process !== undefined) out.push({ name: slot.label, output: slot.process.output() });
    if (this.worker !== undefined) out.push({ name: `worker#${this.workerGeneration}`, output: this.worker.output() });
    out.push({ name: 'redis-server', output: this.redis.output() });
    return out;
  }

  /** Stops every process, proxy, the Redis and drops the schema. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const kills: Array<Promise<unknown>> = [];
      for (const slot of this.instances) kills.push(slot.process?.kill('SIGKILL') ?? Promise.resolve());
      kills.push(this.worker?.kill('SIGKILL') ?? Promise.resolve());
      await Promise.allSettled(kills);
      await Promise.allSettled(this.instances.map((s) => s.proxy.close()));
      this.pgProxy.resume();
      await this.pgProxy.close().catch(() => undefined);
      await this.redis.close().catch(() => undefined);
      await this.db
        .drop()
        .catch((error: unknown) => this.options.log(`could not drop the test schema: ${String(error)}`));
      ACTIVE.delete(this);
    })();
    return this.closing;
  }

  /** Synchronous last resort on process exit: SIGKILL to every child still running. */
  killNow(): void {
    for (const slot of this.instances) slot.process?.child.kill('SIGKILL');
    this.worker?.child.kill('SIGKILL');
    this.redis.killNow();
  }

  private slot(i: number): InstanceSlot {
    const slot = this.instances[i];
    if (slot === undefined) throw new Error(`no instance ${i}`);
    return slot;
  }

  private env(): Record<string, string> {
    return { ...CHAOS_SERVER_ENV, ...this.options.env, REDIS_URL: this.redis.url };
  }

  private async spawnApi(name: string): Promise<ServerProcess> {
    const process = await startServerProcess({
      prefix: this.prefix,
      databaseUrl: this.databaseUrl,
      args: ['--role', 'api'],
      env: this.env(),
      entry: this.options.entry,
    });
    this.options.log(`${name} started on :${process.port} (pid ${process.child.pid})`);
    return process;
  }
}

/** Clusters not yet closed, so an exit handler can kill their processes. */
const ACTIVE = new Set<ChaosCluster>();

/** Kills the processes of every cluster not yet closed (synchronous; for `process.on('exit')`). */
export function killAllClusters(): void {
  for (const cluster of ACTIVE) cluster.killNow();
}
