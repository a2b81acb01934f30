import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ConnectionName, RedisManager } from '../../src/redis/index.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

// Every connection this file opens lives under this scope, so the process-wide singleton is
// left as other code in the process expects it.
const scope = `redis-manager-test-${randomUUID().slice(0, 8)}`;

describe('RedisManager', () => {
  const manager = RedisManager.getInstance();
  let observer: Redis;

  /** Connection names the real server reports for our scope. */
  async function serverSideNames(): Promise<string[]> {
    const list = (await observer.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith(`tandem:${scope}`))
      .sort();
  }

  beforeAll(async () => {
    manager.configure({ url: TEST_REDIS_URL });
    observer = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    await observer.connect();
  });

  afterAll(async () => {
    await manager.closeScope(scope);
    await observer.quit();
  });

  it('is a singleton', () => {
    expect(RedisManager.getInstance()).toBe(manager);
    expect(RedisManager.getInstance()).toBe(RedisManager.getInstance());
  });

  it('returns one connection per name, named on the server', async () => {
    // configure() above names a single Redis, so these are `Redis`, not `Cluster`.
    const a = manager.getConnection(`${scope}:a`) as Redis;
    expect(manager.getConnection(`${scope}:a`)).toBe(a);
    const b = manager.getConnection(`${scope}:b`);
    expect(b).not.toBe(a);
    expect(await a.client('GETNAME')).toBe(`tandem:${scope}:a`);
    expect(await b.client('GETNAME')).toBe(`tandem:${scope}:b`);
    expect(a.options.connectionName).toBe(`tandem:${scope}:a`);
    expect(await a.client('ID')).not.toBe(await b.client('ID'));
    expect(manager.names()).toEqual(expect.arrayContaining([`${scope}:a`, `${scope}:b`]));
    expect(await serverSideNames()).toEqual([`tandem:${scope}:a`, `tandem:${scope}:b`]);
    await manager.closeScope(scope);
  });

  it('creates connections with maxRetriesPerRequest null (as BullMQ workers require)', async () => {
    const c = manager.getConnection(`${scope}:${ConnectionName.WORKER}`) as Redis;
    expect(c.options.maxRetriesPerRequest).toBeNull();
    expect(await c.ping()).toBe('PONG');
    await manager.closeScope(scope);
  });

  it('lets a caller add ioredis options and use another URL', async () => {
    const c = manager.getConnection(`${scope}:custom`, {
      url: TEST_REDIS_URL,
      redisOptions: { enableAutoPipelining: true },
    }) as Redis;
    expect(c.options.enableAutoPipelining).toBe(true);
    expect(c.options.maxRetriesPerRequest).toBeNull();
    expect(await c.ping()).toBe('PONG');
    await manager.closeScope(scope);
  });

  it('closeScope quits only the connections of that scope', async () => {
    const mine = [manager.getConnection(`${scope}:one:default`), manager.getConnection(`${scope}:one:pub`)];
    // Shares a prefix but not the scope: `one` must not close `one-bis`.
    const other = manager.getConnection(`${scope}:one-bis:default`);
    await Promise.all([...mine, other].map((c) => c.ping()));

    await manager.closeScope(`${scope}:one`);

    await waitFor(() => mine.every((c) => c.status === 'end'), 5000, 'scoped connections ended');
    expect(manager.names()).not.toContain(`${scope}:one:default`);
    expect(manager.names()).not.toContain(`${scope}:one:pub`);
    expect(manager.names()).toContain(`${scope}:one-bis:default`);
    expect(other.status).toBe('ready');
    expect(await other.ping()).toBe('PONG');
    await waitFor(
      async () => (await serverSideNames()).join() === `tandem:${scope}:one-bis:default`,
      5000,
      'server sees one client',
    );

    // A closed name gets a fresh connection on next use.
    const again = manager.getConnection(`${scope}:one:default`);
    expect(again).not.toBe(mine[0]);
    expect(await again.ping()).toBe('PONG');
    await manager.closeScope(scope);
  });

  it('closes a connection that never became ready without waiting for it', async () => {
    const dead = manager.getConnection(`${scope}:dead`, {
      url: 'redis://127.0.0.1:1',
      redisOptions: { retryStrategy: () => null, lazyConnect: true },
    });
    dead.on('error', () => undefined);
    expect(dead.status).toBe('wait');
    await manager.closeScope(`${scope}:dead`);
    expect(dead.status).toBe('end');
    expect(manager.names()).not.toContain(`${scope}:dead`);
  });

  it('closing twice is harmless', async () => {
    const c = manager.getConnection(`${scope}:twice`);
    await c.ping();
    await manager.closeScope(`${scope}:twice`);
    await manager.closeScope(`${scope}:twice`);
    await expect(manager.closeScope(`${scope}:never-opened`)).resolves.toBeUndefined();
    await waitFor(() => c.status === 'end', 5000, 'connection ended');
  });

  // Runs last: closeAll empties the whole (process-wide) pool.
  it('closeAll quits every connection and empties the pool; a second call is harmless', async () => {
    const conns = [
      manager.getConnection(`${scope}:all:1`),
      manager.getConnection(`${scope}:all:2`),
      manager.getConnection(`${scope}:all:3`),
    ];
    await Promise.all(conns.map((c) => c.ping()));
    expect(await serverSideNames()).toHaveLength(3);

    await manager.closeAll();

    expect(manager.names()).toEqual([]);
    await waitFor(() => conns.every((c) => c.status === 'end'), 5000, 'all connections ended');
    await waitFor(async () => (await serverSideNames()).length === 0, 5000, 'server sees no client');
    await expect(manager.closeAll()).resolves.toBeUndefined();
    expect(manager.names()).toEqual([]);
    // The singleton stays usable after closeAll.
    const fresh = manager.getConnection(`${scope}:after`);
    expect(await fresh.ping()).toBe('PONG');
  });
});
