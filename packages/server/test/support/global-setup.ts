import { Redis } from 'ioredis';
import pg from 'pg';
import { TEST_POSTGRES_URL, TEST_REDIS_URL } from './services.js';

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
