import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { ShardId } from '@tandem/protocol';
import type { TandemClient } from '@tandem/client-sdk';
import { adminToken, createShard, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { budgetMs } from '../support/time-budget.js';
import { waitFor } from '../support/wait-for.js';
import { createTestRedis, testRedisKeys } from '../support/services.js';

describe.each(['postgres', 'sqlite'] as const)('syncShard against %s', (kind) => {
  // No periodic scheduler: these tests drive syncs themselves.
  const t = useTandem({ database: kind, env: { SYNC_INTERVAL_MS: '3600000' } });
  const prefix = t.prefix;
  let server: RunningApp;

  beforeAll(() => {
    server = t.apps[0]!;
  });

  function client(): Promise<TandemClient> {
    return t.client();
  }

  async function stored(shardId: ShardId) {
    const shard = await server.app.repository.findById(shardId);
    if (shard === null) throw new Error('shard missing');
    return shard;
  }

  it('writes only the files changed since last_sync_timestamp, then advances it', async () => {
    const shardId = await createShard(server.url, 'react');
    const before = await stored(shardId);
    const session = await (await client()).join(shardId);
    const text = await session.openFile('src/App.jsx');
    text.insert(0, '// changed\n');
    await session.flushed();

    const first = await server.app.flush(shardId);
    expect(first.written).toBe(1);
    const after = await stored(shardId);
    expect(after.lastSyncTimestamp).toBeGreaterThan(before.lastSyncTimestamp);
    expect(after.lastSyncTimestamp).toBe(first.version);
    for (const file of after.files) {
      const old = before.files.find((f) => f.id === file.id)!;
      if (file.path === 'src/App.jsx') {
        expect(file.content).toBe(text.toString());
        expect(file.version).toBe(first.version);
      } else {
        expect(file.version).toBe(old.version);
        expect(file.updatedAt.getTime()).toBe(old.updatedAt.getTime());
        expect(file.content).toBe(old.content);
      }
    }
    // Nothing changed since: a second sync writes nothing and keeps the watermark.
    const second = await server.app.flush(shardId);
    expect(second.written + second.deleted).toBe(0);
    expect((await stored(shardId)).lastSyncTimestamp).toBe(after.lastSyncTimestamp);
  });

  it('persists creates, renames, deletes and package.json dependency edits', async () => {
    const shardId = await createShard(server.url, 'vanilla');
    const session = await (await client()).join(shardId);
    await session.createFile('src/new/util.js', 'export const x = 1;\n');
    await session.rename('src/main.js', 'src/entry.js');
    await session.delete('src/style.css');
    const pkg = await session.openFile('package.json');
    const json = JSON.parse(pkg.toString()) as { dependencies?: Record<string, string> };
    json.dependencies = { ...json.dependencies, 'left-pad': '1.3.0' };
    pkg.delete(0, pkg.length);
    pkg.insert(0, JSON.stringify(json, null, 2));
    await session.flushed();
    // File operations are in the database when acknowledged (the tree is written through);
    // the new file's text comes with the sync.
    const before = await stored(shardId);
    expect(before.files.map((f) => f.path).sort()).toEqual(expect.arrayContaining(['src/new/util.js', 'src/entry.js']));
    expect(before.files.map((f) => f.path)).not.toContain('src/style.css');
    expect(before.files.find((f) => f.path === 'src/new/util.js')!.content).toBe('');
    const result = await server.app.flush(shardId);
    expect(result.deleted).toBe(0);
    const shard = await stored(shardId);
    const paths = shard.files.map((f) => f.path).sort();
    expect(paths).toContain('src/new/util.js');
    expect(paths).toContain('src/entry.js');
    expect(paths).not.toContain('src/main.js');
    expect(paths).not.toContain('src/style.css');
    expect(shard.files.find((f) => f.path === 'src/new/util.js')!.content).toBe('export const x = 1;\n');
    expect(shard.dependencies['left-pad']).toBe('1.3.0');
  });

  it('loses no edit when thousands of edits race many syncs, two at a time', async () => {
    const shardId = await createShard(server.url, 'vanilla');
    const sessions = await Promise.all([client(), client()].map(async (c) => (await c).join(shardId)));
    const texts = await Promise.all(sessions.map((s) => s.openFile('src/main.js')));
    let typing = true;
    let rounds = 0;
    const syncs = (async () => {
      while (typing) {
        await Promise.all([server.app.flush(shardId), server.app.flush(shardId)]);
        rounds++;
      }
    })();
    // Three bursts of 500 edits, each followed by a round of syncs that ends while its edits
    // are still arriving (however fast the machine syncs), then on until every edit is acked.
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 500; i++) {
        const t = texts[i % 2]!;
        t.insert(Math.floor(Math.random() * (t.length + 1)), String.fromCharCode(97 + (i % 26)));
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      const before = rounds;
      await waitFor(() => rounds > before, budgetMs(30_000), 'a round of syncs during the edits');
    }
    await Promise.all(sessions.map((s) => s.flushed(budgetMs(30_000))));
    typing = false;
    await syncs;
    await waitFor(() => texts[0]!.toString() === texts[1]!.toString(), budgetMs(5_000), 'clients converge');
    await server.app.flush(shardId);
    const file = (await stored(shardId)).files.find((f) => f.path === 'src/main.js')!;
    expect(file.content).toBe(texts[0]!.toString());
    // The stored Yjs state is the same document, not just the same text.
    const doc = new Y.Doc();
    Y.applyUpdate(doc, file.ydocState);
    expect(doc.getText('content').toString()).toBe(texts[0]!.toString());
  });

  it('a join racing an eviction never loses an edit and never leaves a half-evicted shard', async () => {
    const shardId = await createShard(server.url, 'static');
    const c = await client();
    for (let round = 0; round < 15; round++) {
      const session = await c.join(shardId);
      const text = await session.openFile('index.html');
      text.insert(0, `<!-- round ${round} -->`);
      await session.flushed();
      await c.leave(shardId);
      const [evicted, rejoined] = await Promise.all([
        server.app.flush(shardId, { evict: true }),
        (async () => {
          const s = await c.join(shardId);
          const t = await s.openFile('index.html');
          return { s, t };
        })(),
      ]);
      expect(['EVICTED', 'MEMBERS', 'DIRTY', 'LOCKED']).toContain(evicted.evicted);
      expect(rejoined.t.toString()).toContain(`<!-- round ${round} -->`);
      expect(rejoined.s.tree().length).toBeGreaterThan(0);
      await c.leave(shardId);
    }
    await server.app.flush(shardId);
    const content = (await stored(shardId)).files.find((f) => f.path === 'index.html')!.content;
    for (let round = 0; round < 15; round++) expect(content).toContain(`<!-- round ${round} -->`);
  });

  it('evicts only when nobody is in the shard and nothing is unsynced', async () => {
    const shardId = await createShard(server.url, 'static');
    const c = await client();
    const session = await c.join(shardId);
    (await session.openFile('index.html')).insert(0, 'x');
    await session.flushed();
    expect((await server.app.flush(shardId, { evict: true })).evicted).toBe('MEMBERS');
    await c.leave(shardId);
    // An edit that arrived after the last flush keeps the shard: it must be synced first.
    await server.app.shards.writeFile(
      await server.app.auth.verify(await adminToken()),
      shardId,
      'index.html',
      'rest write',
    );
    expect(await server.app.cache.sync.dirtyCount(shardId)).toBeGreaterThan(0);
    expect(await server.app.cache.sync.evict(shardId)).toBe('DIRTY');
    const done = await server.app.flush(shardId, { evict: true });
    expect(done.evicted).toBe('EVICTED');
    const redis = createTestRedis();
    try {
      expect(await testRedisKeys(redis, `${prefix}:shard:{${shardId}}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect((await stored(shardId)).files.find((f) => f.path === 'index.html')!.content).toBe('rest write');
  });
});
