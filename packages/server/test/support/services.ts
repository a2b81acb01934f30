import { randomUUID } from 'node:crypto';

/** Redis used by the integration tests. Override with TEST_REDIS_URL. */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** PostgreSQL used by the integration tests. Override with TEST_DATABASE_URL. */
export const TEST_POSTGRES_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A key prefix unique to one test file, so files running in parallel never share keys, channels or queues. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}`;
}
