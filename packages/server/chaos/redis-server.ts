import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** A free loopback TCP port (bound and released at once; the caller binds it right after). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A redis-server the chaos suite owns: its own port and data directory, AOF on with
 * `appendfsync always` (an acknowledged write is on disk before the reply), no RDB snapshots,
 * `maxmemory-policy noeviction`. The suite kills, restarts and flushes it; it never touches the
 * machine's Redis on 6379.
 */
export class DedicatedRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<DedicatedRedis> {
    const redis = new DedicatedRedis(await freePort(), mkdtempSync(join(tmpdir(), 'tandem-chaos-redis-')));
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The server's own log (last 64 KiB). */
  output(): string {
    return this.log;
  }

  /** Starts redis-server on the same port and directory (it replays the AOF) and waits for PING. */
  async launch(): Promise<void> {
    if (this.child !== undefined) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--daemonize',
        'no',
        '--protected-mode',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const append = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-65_536);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.child === undefined) throw new Error(`redis-server exited during start:\n${this.log}`);
      if (await this.ping()) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer PING within 15 s:\n${this.log}`);
  }

  /** kill -9: with `appendfsync always`, every acknowledged write is already in the AOF. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** A command on a short-lived connection. */
  async command<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await run(redis);
    } finally {
      redis.disconnect();
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.command((r) => r.ping())) === 'PONG';
    } catch {
      // Not up yet (connection refused or still loading the AOF): the caller polls again.
      return false;
    }
  }

  /** Stops the server and deletes its data directory. Idempotent. */
  async close(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit handler). */
  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}
