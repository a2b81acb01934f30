import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';

/** Redis used by the integration tests. Override with TEST_REDIS_URL. */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/**
 * Redis Cluster seed nodes (`host:port,…`). When set, every app and server process the tests
 * start talks to this cluster instead of TEST_REDIS_URL (`npm run test:cluster` sets it).
 */
export const TEST_REDIS_CLUSTER_NODES: string | undefined = process.env['TEST_REDIS_CLUSTER_NODES'] || undefined;
/** PostgreSQL used by the integration tests. Override with TEST_DATABASE_URL. */
export const TEST_POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The cluster seed nodes of TEST_REDIS_CLUSTER_NODES, or undefined for a single Redis. */
function clusterNodes(): Array<{ host: string; port: number }> | undefined {
  return TEST_REDIS_CLUSTER_NODES?.split(',').map((entry) => {
    const [host = '', port = ''] = entry.trim().split(':');
    return { host, port: Number(port) };
  });
}

/**
 * A client for tests to look at what the apps wrote: on the cluster when TEST_REDIS_CLUSTER_NODES
 * is set, else on TEST_REDIS_URL. The caller quits it.
 */
export function createTestRedis(): Redis | Cluster {
  const nodes = clusterNodes();
  return nodes === undefined ? new Redis(TEST_REDIS_URL) : new Cluster(nodes);
}

/** KEYS `pattern` on every primary: a cluster client sends KEYS to one node only. */
export async function testRedisKeys(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  if (!(redis instanceof Cluster)) return redis.keys(pattern);
  const perNode = await Promise.all(redis.nodes('master').map((node) => node.keys(pattern)));
  return perNode.flat();
}

/** A key prefix unique to one test file, so files running in parallel never share keys, channels or queues. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}`;
}
