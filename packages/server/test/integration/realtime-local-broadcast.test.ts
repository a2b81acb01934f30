import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import type * as Y from 'yjs';
import { createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

/**
 * An edit from the only instance with sockets in a shard stays on that instance: the adapter's
 * publish is skipped (docs/internals.md, "Edits nobody else needs"). Counted on the room's own
 * sharded channel, which is what another instance would have received.
 */
describe('edits published only when another instance has sockets in the shard', () => {
  const t = useTandem({ instances: 2 });
  const subscribers: Redis[] = [];
  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.quit()));
  });

  /** Counts the `file:edited` broadcasts published to the shard's room channel. */
  async function publishedEdits(shardId: ShardId): Promise<{ count: number }> {
    const sub = new Redis(TEST_REDIS_URL);
    subscribers.push(sub);
    const channel = `${t.prefix}:socket.io#/#shard:${shardId}#`;
    const seen = { count: 0 };
    sub.on('smessageBuffer', (from: Buffer, message: Buffer) => {
      if (from.toString() === channel && message.includes('file:edited')) seen.count++;
    });
    await sub.ssubscribe(channel);
    return seen;
  }

  async function type(text: Y.Text, chars: number, everyMs = 0): Promise<void> {
    for (let i = 0; i < chars; i++) {
      text.insert(Math.floor(Math.random() * (text.length + 1)), String.fromCharCode(97 + (i % 26)));
      if (everyMs > 0) await sleep(everyMs);
    }
  }

  it.skipIf(TEST_REDIS_CLUSTER_NODES !== undefined)(
    'is not published while one instance has the only sockets, and is while another has one',
    async () => {
      const shardId = await createShard(t.url(0));
      const published = await publishedEdits(shardId);
      const [a1, a2] = await Promise.all([t.session(shardId, 0), t.session(shardId, 0)]);
      const [text1, text2] = await Promise.all([a1!.openFile('index.html'), a2!.openFile('index.html')]);
      await type(text1, 20);
      await a1!.flushed();
      await waitFor(() => text2.toString() === text1.toString(), 5000, 'the other socket on the same instance');
      expect(published.count).toBe(0);

      const b = await t.session(shardId, 1);
      const textB = await b.openFile('index.html');
      await type(text1, 20);
      await a1!.flushed();
      await waitFor(() => textB.toString() === text1.toString(), 5000, 'the socket on the other instance');
      expect(published.count).toBeGreaterThanOrEqual(20);

      // The other instance's last socket left: alone again.
      await b.leave();
      const before = published.count;
      await type(text1, 20);
      await a1!.flushed();
      await waitFor(() => text2.toString() === text1.toString(), 5000, 'the other socket on the same instance');
      expect(published.count).toBe(before);
    },
  );

  it('a socket joining on another instance while one instance types alone misses nothing', async () => {
    const shardId = await createShard(t.url(0));
    const a = await t.session(shardId, 0);
    const textA = await a.openFile('index.html');
    let typing = true;
    const typist = (async () => {
      while (typing) await type(textA, 1, 1);
    })();
    const joined: Y.Text[] = [];
    // A notice a client missed makes its session join again (the gap watch, docs/protocol.md):
    // with every edit after its join published to it, each joins exactly once.
    const joins: number[] = [];
    try {
      // Joins at different points of the typing: the first while the instance it joins on has no
      // socket in the shard, the later ones while it has.
      for (let i = 0; i < 4; i++) {
        await sleep(30 + Math.floor(Math.random() * 60));
        const client = await t.client(1);
        joins.push(0);
        client.socket.onAnyOutgoing((event) => {
          if (event === 'shard:join') joins[i]!++;
        });
        const b = await client.join(shardId);
        joined.push(await b.openFile('index.html'));
      }
      await sleep(200);
    } finally {
      typing = false;
      await typist;
    }
    await a.flushed();
    await waitFor(
      () => joined.every((text) => text.toString() === textA.toString()),
      10_000,
      'every socket that joined on the other instance has every edit',
    );
    expect(joins).toEqual([1, 1, 1, 1]);
  });
});
