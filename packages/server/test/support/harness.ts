import { afterAll, beforeAll } from 'vitest';
import type { ShardSession, TandemClient } from '@tandem/client-sdk';
import {
  connectClient,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type LogCapture,
  type RunningApp,
  type TestAppOptions,
  type TestDatabase,
} from './test-app.js';

export type Harness = {
  readonly prefix: string;
  readonly db: TestDatabase;
  readonly apps: RunningApp[];
  /** The URL of instance `i` (modulo the number of instances). */
  url(i?: number): string;
  /** A connected SDK client on instance `i`, closed after the file. */
  client(i?: number, token?: string): Promise<TandemClient>;
  /** A new client on instance `i` joined to the shard. */
  session(shardId: string, i?: number): Promise<ShardSession>;
};

/**
 * Registers beforeAll/afterAll hooks that start `instances` app instances sharing one Redis
 * prefix and one fresh database, and close everything (clients, apps, database) afterwards.
 */
export function useTandem(
  options: {
    instances?: number;
    database?: 'sqlite' | 'postgres';
    env?: Record<string, string>;
    logs?: LogCapture;
  } & Omit<Partial<TestAppOptions>, 'prefix' | 'databaseUrl'> = {},
): Harness {
  const { instances = 1, database = 'sqlite', ...appOptions } = options;
  const prefix = uniquePrefix();
  const apps: RunningApp[] = [];
  const clients: TandemClient[] = [];
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(database);
    for (let i = 0; i < instances; i++) apps.push(await startTestApp({ ...appOptions, prefix, databaseUrl: db.url }));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const a of apps) await a.app.close();
    await db?.drop();
  });

  const harness: Harness = {
    prefix,
    get db(): TestDatabase {
      if (db === undefined) throw new Error('the harness database is created in beforeAll');
      return db;
    },
    apps,
    url: (i = 0) => apps[i % apps.length]!.url,
    async client(i = 0, token?: string) {
      const c = await connectClient(harness.url(i), token);
      clients.push(c);
      return c;
    },
    async session(shardId, i = 0) {
      return (await harness.client(i)).join(shardId);
    },
  };
  return harness;
}
