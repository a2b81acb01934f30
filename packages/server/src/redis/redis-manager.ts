import { Redis, type RedisOptions } from 'ioredis';

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

export type ConnectionOptions = {
  /** Redis URL; defaults to the one given to configure(). */
  url?: string;
  /** Extra ioredis options for this connection. */
  redisOptions?: RedisOptions;
};

/**
 * One per process (the product brief's singleton): a pool of named ioredis connections,
 * created on first use and all closed by closeAll(). Connection names may be scoped
 * (`<scope>:<role>`) so several app instances in one process (tests) can close only theirs.
 */
export class RedisManager {
  private static redisManagerInst: RedisManager | undefined;
  private readonly pool = new Map<string, Redis>();
  private defaultUrl: string | undefined;

  private constructor() {}

  static getInstance(): RedisManager {
    RedisManager.redisManagerInst ??= new RedisManager();
    return RedisManager.redisManagerInst;
  }

  /** Sets the URL used by connections that do not name one. Called once by the composition root. */
  configure(options: { url: string }): void {
    this.defaultUrl = options.url;
  }

  /** The connection with this name, created on first use (maxRetriesPerRequest: null, as BullMQ requires). */
  getConnection(name: string = ConnectionName.DEFAULT, options: ConnectionOptions = {}): Redis {
    const existing = this.pool.get(name);
    if (existing !== undefined) return existing;
    const url = options.url ?? this.defaultUrl;
    if (url === undefined) throw new Error('RedisManager.configure({ url }) must be called before getConnection()');
    const connection = new Redis(url, {
      maxRetriesPerRequest: null,
      connectionName: `tandem:${name}`,
      ...options.redisOptions,
    });
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

async function quitOrDisconnect(connection: Redis): Promise<void> {
  // quit() waits for pending replies; on a connection that never connected or is already
  // gone it would wait for a reconnect that may never come, so disconnect instead.
  if (connection.status === 'ready') {
    await connection.quit();
  } else {
    connection.disconnect();
  }
}
