import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** Well-known connection names. Each role gets its own connection (see STYLE.md §6). */
export const ConnectionName = {
  DEFAULT: 'default',
  /** socket.io adapter publisher. */
  PUB: 'pub',
  /** socket.io adapter subscriber (subscriber mode: no other commands). */
  SUB: 'sub',
  /** BullMQ producer (Queue): fails fast. */
  QUEUE: 'queue',
  /** BullMQ worker: blocking commands, waits forever. */
  WORKER: 'worker',
} as const;

/** A connection: one Redis, or a Redis Cluster client (same command API, keys routed by slot). */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: one server at `url`, or a cluster seeded by `clusterNodes`. */
export type RedisTarget = {
  /** Redis URL. With `clusterNodes` it only supplies the username, password and TLS (rediss://). */
  url: string;
  /** Redis Cluster seed nodes; undefined or empty for a single Redis. */
  clusterNodes?: ReadonlyArray<Readonly<{ host: string; port: number }>> | undefined;
};

export type ConnectionOptions = {
  /** Redis URL of a single Redis; defaults to the target given to configure() (which may be a cluster). */
  url?: string;
  /** Extra ioredis options for this connection (on a cluster: for each node connection). */
  redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options, used only on a cluster (e.g. `shardedSubscribers` for SSUBSCRIBE). */
  clusterOptions?: ClusterOptions;
};

/**
 * Creates one connection to the target: a `Redis`, or a `Cluster` when seed nodes are given.
 * Every connection gets `maxRetriesPerRequest: null` (BullMQ workers require it) and a name.
 */
export function createRedisConnection(
  target: RedisTarget,
  connectionName: string,
  options: Omit<ConnectionOptions, 'url'> = {},
): RedisConnection {
  const base: RedisOptions = { maxRetriesPerRequest: null, connectionName, ...options.redisOptions };
  const nodes = target.clusterNodes ?? [];
  if (nodes.length === 0) return new Redis(target.url, base);
  return new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      ...options.clusterOptions,
      redisOptions: { ...credentialsOf(target.url), ...base, ...options.clusterOptions?.redisOptions },
    },
  );
}

/** The username, password and TLS of a Redis URL, applied to every cluster node. */
function credentialsOf(url: string): RedisOptions {
  const parsed = new URL(url);
  const out: RedisOptions = {};
  if (parsed.username !== '') out.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') out.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') out.tls = {};
  return out;
}

/**
 * One per process (the product brief's singleton): a pool of named ioredis connections,
 * created on first use and all closed by closeAll(). Connection names may be scoped
 * (`<scope>:<role>`) so several app instances in one process (tests) can close only theirs.
 */
export class RedisManager {
  private static redisManagerInst: RedisManager | undefined;
  private readonly pool = new Map<string, RedisConnection>();
  private target: RedisTarget | undefined;

  private constructor() {}

  static getInstance(): RedisManager {
    RedisManager.redisManagerInst ??= new RedisManager();
    return RedisManager.redisManagerInst;
  }

  /**
   * Sets where connections that do not name a URL go: one Redis at `url`, or the cluster seeded
   * by `clusterNodes`. Called once by the composition root.
   */
  configure(options: RedisTarget): void {
    this.target = { url: options.url, clusterNodes: options.clusterNodes };
  }

  /** Whether configure() named a Redis Cluster. */
  isCluster(): boolean {
    return (this.target?.clusterNodes?.length ?? 0) > 0;
  }

  /**
   * The connection with this name, created on first use (maxRetriesPerRequest: null, as BullMQ
   * requires): a `Cluster` when configure() named cluster nodes and no `url` is given, else a `Redis`.
   */
  getConnection(name: string = ConnectionName.DEFAULT, options: ConnectionOptions = {}): RedisConnection {
    const existing = this.pool.get(name);
    if (existing !== undefined) return existing;
    const target: RedisTarget | undefined = options.url === undefined ? this.target : { url: options.url };
    if (target === undefined) throw new Error('RedisManager.configure({ url }) must be called before getConnection()');
    const connection = createRedisConnection(target, `tandem:${name}`, options);
    this.pool.set(name, connection);
    return connection;
  }

  /** Names of the open connections. */
  names(): string[] {
    return [...this.pool.keys()];
  }

  /** Quits the connections whose names start with `scope:` (or equal it) and removes them from the pool. */
  async closeScope(scope: string): Promise<void> {
    const names = this.names().filter((n) => n === scope || n.startsWith(`${scope}:`));
    await this.closeNames(names);
  }

  /** Quits every connection and empties the pool. Reports every failure, after trying all. */
  async closeAll(): Promise<void> {
    await this.closeNames(this.names());
  }

  private async closeNames(names: string[]): Promise<void> {
    const failures: unknown[] = [];
    for (const name of names) {
      const connection = this.pool.get(name);
      this.pool.delete(name);
      if (connection === undefined) continue;
      try {
        await quitOrDisconnect(connection);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'some Redis connections failed to close');
  }
}

async function quitOrDisconnect(connection: RedisConnection): Promise<void> {
  // quit() waits for pending replies; on a connection that never connected or is already
  // gone it would wait for a reconnect that may never come, so disconnect instead.
  if (connection.status === 'ready') {
    await connection.quit();
  } else {
    connection.disconnect();
  }
}
