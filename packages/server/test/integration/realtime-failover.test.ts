import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { adminToken, createShard, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import type { ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTestRedis, testRedisKeys } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs } from '../support/time-budget.js';
import { shardKeys } from '../../src/redis/index.js';

describe('reconnecting to another instance', () => {
  const t = useTandem({ instances: 2 });
  const apps = t.apps;
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await TcpProxy.start(apps[0]!.port);
  });

  afterAll(async () => {
    await proxy.close();
  });

  it('merges edits made offline into the shard when the client comes back on another instance', async () => {
    const shardId = await createShard(apps[0]!.url);
    const roaming = await t.client(proxy.url);
    const staying = await t.client(1);
    const a = await roaming.join(shardId);
    const b = await staying.join(shardId);
    const ta = await a.openFile('src/main.js');
    const tb = await b.openFile('src/main.js');
    ta.insert(0, 'online-edit;');
    await waitFor(() => tb.toString().startsWith('online-edit;'), 5000, 'first edit');

    roaming.socket.disconnect();
    await waitFor(() => a.status === 'offline', 5000, 'offline status');
    ta.insert(0, 'offline-edit-1;');
    ta.insert(ta.length, ';offline-edit-2');
    tb.insert(0, 'meanwhile;');
    await b.flushed();
    expect(tb.toString()).not.toContain('offline-edit');

    proxy.retarget(apps[1]!.port);
    roaming.socket.connect();
    await waitFor(() => a.status === 'saved' || a.status === 'live', budgetMs(5_000), 'rejoined');
    await waitFor(
      () =>
        ta.toString() === tb.toString() &&
        tb.toString().includes('offline-edit-1;') &&
        tb.toString().includes(';offline-edit-2') &&
        ta.toString().includes('meanwhile;'),
      budgetMs(5_000),
      'offline edits merged both ways',
    );
  });
});

describe('an instance killed with SIGKILL', () => {
  const t = useTandem({ instances: 0, processes: 2, database: 'postgres' });
  const prefix = t.prefix;
  let p1: ServerProcess;
  let p2: ServerProcess;
  let proxy: TcpProxy;
  let redis: Redis | Cluster;

  beforeAll(async () => {
    [p1, p2] = t.processes as [ServerProcess, ServerProcess];
    proxy = await TcpProxy.start(p1.port);
    redis = createTestRedis();
  });

  afterAll(async () => {
    await proxy.close();
    redis.disconnect();
  });

  it('loses no acknowledged edit: clients reconnect elsewhere and dead members expire', async () => {
    const shardId = await createShard(p2.url);
    const victim = await t.client(proxy.url);
    const observer = await t.client(p2.url);
    const a = await victim.join(shardId);
    const b = await observer.join(shardId);
    const ta = await a.openFile('index.html');
    const tb = await b.openFile('index.html');
    const typed: string[] = [];
    for (let i = 0; i < 50; i++) {
      const word = `w${i};`;
      typed.push(word);
      ta.insert(ta.length, word);
    }
    await a.flushed();
    const members = shardKeys(prefix, shardId).members;
    expect(await redis.zcard(members)).toBe(2);

    await p1.kill('SIGKILL');
    proxy.retarget(p2.port);
    proxy.dropAll();
    await waitFor(() => a.status === 'saved' || a.status === 'live', budgetMs(7_500), 'victim reconnected to p2');
    ta.insert(ta.length, 'after-failover;');
    await waitFor(() => tb.toString().includes('after-failover;'), budgetMs(5_000), 'edit after failover');
    for (const word of typed) expect(tb.toString()).toContain(word);
    // The dead instance's member expires (TTL 2 s); the reconnected one and the observer stay.
    await waitFor(
      async () => {
        await redis.zremrangebyscore(members, '-inf', Date.now());
        return (await redis.zcard(members)) === 2;
      },
      budgetMs(p1.config.cache.memberTtlMs + 2 * p1.config.cache.heartbeatMs),
      'dead member expired',
    );
  });
});

describe('Redis losing every key of the app', () => {
  const t = useTandem({ env: { SYNC_INTERVAL_MS: '3600000' } });
  const prefix = t.prefix;
  let server: RunningApp;
  let redis: Redis | Cluster;

  beforeAll(() => {
    server = t.apps[0]!;
    redis = createTestRedis();
  });

  afterAll(() => {
    redis.disconnect();
  });

  it('reloads the shard and gets the lost edits back from the clients through the handshake', async () => {
    const shardId = await createShard(server.url);
    const a = await t.client();
    const b = await t.client();
    const sa = await a.join(shardId);
    const sb = await b.join(shardId);
    const ta = await sa.openFile('index.html');
    const tb = await sb.openFile('index.html');
    ta.insert(0, 'acked-then-lost;');
    await sa.flushed();
    await waitFor(() => tb.toString().startsWith('acked-then-lost;'), 5000);

    // Everything the app had in Redis disappears (as after FLUSHALL or a restart without AOF).
    const keys = await testRedisKeys(redis, `${prefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) await redis.del(key); // keys of several slots: no multi-key DEL on a cluster

    tb.insert(tb.length, ';after-the-loss');
    await sb.flushed();
    await waitFor(
      async () => {
        const res = await server.app.shards.readFile(
          await server.app.auth.verify(await adminToken()),
          shardId,
          'index.html',
        );
        return 'content' in res && res.content.includes('acked-then-lost;') && res.content.includes(';after-the-loss');
      },
      budgetMs(5_000),
      'server text restored from the clients',
    );
    await waitFor(() => ta.toString() === tb.toString(), 5000, 'clients converge');
    await server.app.flush(shardId);
    const stored = await server.app.repository.findById(shardId);
    expect(stored!.files.find((f) => f.path === 'index.html')!.content).toBe(ta.toString());
    // The clock restarted with the reload; "saved" still arrives for both editors.
    await Promise.all([sa.saved(budgetMs(5_000)), sb.saved(budgetMs(5_000))]);
  });
});
