import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TandemClient } from '@tandem/client-sdk';
import { shardKeys } from '../../../src/redis/index.js';
import {
  connectClient,
  createShard,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../../support/test-app.js';
import { waitFor } from '../../support/wait-for.js';
import { createTestRedis } from '../../support/services.js';

/** When a dead instance's members expire, the room hears the shard's version (presence:requested). */
describe('announce after expired members', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let server: RunningApp;
  let client: TandemClient;
  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    server = await startTestApp({ prefix, databaseUrl: db.url });
    client = await connectClient(server.url);
  });
  afterAll(async () => {
    await client.close();
    await server.app.close();
    await db.drop();
  });

  it('tells the room the shard clock once the scheduler prunes a dead member', async () => {
    const shardId = await createShard(server.url, 'vanilla');
    const session = await client.join(shardId);
    const text = await session.openFile('index.html');
    text.insert(0, 'x');
    await session.flushed();
    const heard: Array<{ shardId: string; version: number }> = [];
    client.socket.on('presence:requested', (event) => heard.push(event));
    // A member of a dead instance, already expired.
    const redis = createTestRedis();
    await redis.zadd(shardKeys(prefix, shardId).members, 1, 'dead-instance:socket');
    redis.disconnect();
    await waitFor(() => heard.length > 0, 5000, 'presence:requested');
    expect(heard[0]).toEqual({ shardId, version: await server.app.cache.files.version(shardId) });
  });
});
