import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Text as YText } from 'yjs';
import { TandemRest, type TandemClient } from '@tandem/client-sdk';
import {
  adminToken,
  connectClient,
  createShard,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../support/test-app.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait-for.js';
import { budgetMs } from '../support/time-budget.js';
import { createTestRedis, testRedisKeys } from '../support/services.js';
import { freshDistEntry } from '../../chaos/fresh-dist.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/** No sync runs during the test: the typed text is only in Redis and in the clients. */
const NO_SYNC = { SYNC_INTERVAL_MS: '3600000' };
const FILE = 'src/main.js';

/**
 * A delete is broadcast before its tree reaches the database. When its instance dies in between
 * (killed exactly there by the fault hook) and Redis then loses the shard, the file comes back
 * from the database without the edits acknowledged since its last sync; the clients that had them
 * dropped their document on hearing the delete (model test seed 2831631923: two acknowledged
 * tokens lost). The SDK keeps a deleted file's state until a "saved" covers the deletion, and
 * when a rejoin's tree has the file again, its handshake sends the text back.
 */
describe('a file whose deletion Redis lost before it reached the database', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let a: RunningApp;
  let rest: TandemRest;
  let token: string;
  let x: ServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const clients: TandemClient[] = [];

  beforeAll(async () => {
    const entry = await freshDistEntry(REPO_ROOT);
    db = await createTestDatabase('postgres');
    a = await startTestApp({ prefix, databaseUrl: db.url, env: NO_SYNC });
    token = await adminToken();
    rest = new TandemRest({ url: a.url, token });
    x = await startServerProcess({
      prefix,
      databaseUrl: db.url,
      env: { ...NO_SYNC, TANDEM_TEST_FAULTS: 'true' },
      entry,
    });
    proxy = await TcpProxy.start(x.port);
  }, 300_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await proxy?.close();
    await x?.kill('SIGKILL');
    await a?.app.close();
    await db?.drop();
  });

  async function client(url: string): Promise<TandemClient> {
    const c = await connectClient(url);
    clients.push(c);
    return c;
  }

  it("comes back with the text typed before the delete, from the typist's document", async () => {
    const shardId = await createShard(a.url);
    const typist = await (await client(a.url)).join(shardId);
    const text = await typist.openFile(FILE);
    const writerClient = await client(proxy!.url);
    const writer = await writerClient.join(shardId);
    await waitFor(() => writer.fileId(FILE) !== undefined, 5000, 'the file at the writer');

    text.insert(0, '/* typed before the delete */\n');
    await typist.flushed();
    const fileId = typist.fileId(FILE)!;
    // The document the typist's editor holds is closed by the delete; when the file is back, the
    // session says which document replaces it.
    const resets: Array<{ fileId: string; text: YText }> = [];
    typist.on('reset', (reset) => resets.push(reset));

    // X stores the delete, broadcasts it (the typist closes the file) and dies before writing
    // its tree through; its writer never comes back to send it again.
    const response = await fetch(`${x!.url}/__test/faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ crashAfterStore: { kind: 'tree-broadcast', nth: 1 } }),
    });
    expect(response.status, await response.text()).toBe(200);
    void writer.delete(FILE).catch(() => undefined);
    await waitFor(() => typist.fileId(FILE) === undefined, 5000, 'the delete heard by the typist');
    await waitFor(() => x!.child.exitCode !== null || x!.child.signalCode !== null, 10_000, 'X killed by its hook');
    await writerClient.close();
    expect((await a.app.repository.findById(shardId))?.files.some((f) => f.path === FILE)).toBe(true);

    // Redis loses the shard; a join loads it again from the database, with the file and its old text.
    const redis = createTestRedis();
    try {
      await redis.del(...(await testRedisKeys(redis, `${prefix}:shard:{${shardId}}:*`)));
    } finally {
      redis.disconnect();
    }
    const reader = await (await client(a.url)).join(shardId);
    expect(reader.fileId(FILE)).toBe(fileId);

    // The typist rejoins (the load's resync), finds the file back, and its handshake restores the text.
    await waitFor(
      async () => (await rest.readFile(shardId, FILE)).content.startsWith('/* typed before the delete */'),
      budgetMs(10_000),
      'the typed text back on the server (it stayed lost before)',
    );
    const readerText = await reader.openFile(FILE);
    await waitFor(
      () => readerText.toString().startsWith('/* typed before the delete */'),
      5000,
      'the text at another client',
    );

    // The editor binds to the revived document (the 'reset' event) and goes on typing there.
    expect(resets.map((r) => r.fileId)).toEqual([fileId]);
    const revived = resets[0]!.text;
    expect(revived.doc).toBe(typist.doc(fileId));
    revived.insert(0, '// typed after it came back\n');
    await waitFor(
      () => readerText.toString().startsWith('// typed after it came back'),
      5000,
      'the typing after the revival at another client',
    );
  });
});
