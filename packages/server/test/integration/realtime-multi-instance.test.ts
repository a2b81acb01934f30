import { describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { createShard, LogCapture } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

describe('realtime across three instances', () => {
  const logs = new LogCapture();
  const t = useTandem({ instances: 3, database: 'postgres', logs });
  const apps = t.apps;
  const client = t.client;

  it('an edit on one instance reaches clients on the others', async () => {
    const shardId = await createShard(apps[0]!.url);
    const sessions = await Promise.all([0, 1, 2].map(async (i) => (await client(i)).join(shardId)));
    const texts = await Promise.all(sessions.map((s) => s.openFile('index.html')));
    texts[0]!.insert(0, '<!-- hello from instance 0 -->\n');
    await waitFor(
      () => texts.every((t) => t.toString().startsWith('<!-- hello from instance 0 -->')),
      5000,
      'edit fan-out',
    );
  });

  it('concurrent typing at random positions converges, keeping every character', async () => {
    const shardId = await createShard(apps[0]!.url);
    const sessions = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await client(i)).join(shardId)));
    const texts = await Promise.all(sessions.map((s) => s.openFile('src/main.js')));
    const initialLength = texts[0]!.length;
    const perClient = 60;
    await Promise.all(
      texts.map(async (text, c) => {
        for (let k = 0; k < perClient; k++) {
          const pos = Math.floor(Math.random() * (text.length + 1));
          text.insert(pos, String.fromCharCode(65 + c));
          if (k % 10 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      }),
    );
    await Promise.all(sessions.map((s) => s.flushed()));
    await waitFor(
      () => texts.every((t) => t.toString() === texts[0]!.toString() && t.length === initialLength + 6 * perClient),
      10_000,
      'convergence',
    );
    const final = texts[0]!.toString();
    for (let c = 0; c < 6; c++) {
      expect([...final].filter((ch) => ch === String.fromCharCode(65 + c)).length).toBeGreaterThanOrEqual(perClient);
    }
  });

  it('20 clients joining a closed shard at once through different instances load it once', async () => {
    const shardId: ShardId = await createShard(apps[0]!.url);
    const before = logs.count('shard loaded into cache', (l) => l['shardId'] === shardId);
    expect(before).toBe(0);
    const cs = await Promise.all(Array.from({ length: 20 }, (_, i) => client(i)));
    const sessions = await Promise.all(cs.map((c) => c.join(shardId)));
    expect(sessions.every((s) => s.tree().length > 0)).toBe(true);
    expect(logs.count('shard loaded into cache', (l) => l['shardId'] === shardId)).toBe(1);
  });
});
