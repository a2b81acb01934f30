import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { TEST_POSTGRES_URL, TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from './services.js';

/** Fails fast, with the command to run, when Redis or PostgreSQL is not reachable. */
export default async function setup(): Promise<void> {
  const problems: string[] = [];
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    problems.push(
      `Redis is not reachable at ${TEST_REDIS_URL} (${String(error)}). Start it: redis-server --daemonize yes --port 6379, or set TEST_REDIS_URL.`,
    );
  } finally {
    redis.disconnect();
  }
  if (TEST_REDIS_CLUSTER_NODES !== undefined) {
    const nodes = TEST_REDIS_CLUSTER_NODES.split(',').map((n) => {
      const [host = '', port = ''] = n.trim().split(':');
      return { host, port: Number(port) };
    });
    const cluster = new Cluster(nodes, { lazyConnect: true, clusterRetryStrategy: () => null });
    cluster.on('error', () => undefined);
    try {
      await cluster.connect();
      if (!/cluster_state:ok/.test(await cluster.cluster('INFO'))) throw new Error('cluster_state is not ok');
    } catch (error) {
      problems.push(
        `Redis Cluster is not reachable at ${TEST_REDIS_CLUSTER_NODES} (${String(error)}). Start it: scripts/redis-cluster.sh start, or unset TEST_REDIS_CLUSTER_NODES.`,
      );
    } finally {
      cluster.disconnect();
    }
  }
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${String(error)}). Start it (pg_ctlcluster <version> main start), or set TEST_DATABASE_URL.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  if (problems.length > 0) throw new Error(`integration tests need real services:\n${problems.join('\n')}`);
}
