import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { ShardSession } from '@tandem/client-sdk';
import type { Ack } from '@tandem/protocol';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

describe('presence', () => {
  const t = useTandem({ instances: 2 });
  const apps = t.apps;
  const session = t.session;

  const names = (s: ShardSession) =>
    [...s.awareness.getStates().values()]
      .map((st) => (st['user'] as { name?: string } | undefined)?.name)
      .filter((n): n is string => n !== undefined)
      .sort();

  it('shows everyone present to a newcomer, across instances, and only within the shard', async () => {
    const shardId = await createShard(apps[0]!.url);
    const otherShard = await createShard(apps[0]!.url);
    const a = await session(shardId, 0);
    const b = await session(shardId, 1);
    const elsewhere = await session(otherShard, 1);
    a.setPresence({ user: { name: 'ada', color: '#f00' }, file: 'index.html' });
    b.setPresence({ user: { name: 'bob', color: '#0f0' }, file: 'src/main.js' });
    await waitFor(() => names(a).join() === 'ada,bob' && names(b).join() === 'ada,bob', 5000, 'a and b see each other');
    const late = await session(shardId, 0);
    late.setPresence({ user: { name: 'cy', color: '#00f' } });
    await waitFor(() => names(late).join() === 'ada,bob,cy', 5000, 'newcomer sees everyone');
    const witness = await session(otherShard, 0);
    elsewhere.setPresence({ user: { name: 'eve', color: '#000' } });
    // A barrier instead of a sleep: once eve reached the other shard, bob moves. A leaked eve would
    // have gone to ada's room before bob's move (one room, one ordered channel), so ada has it first.
    await waitFor(() => names(witness).includes('eve'), 5000, 'eve reached the other shard');
    b.setPresence({ file: 'index.html' });
    const fileOf = (s: ShardSession, name: string) =>
      [...s.awareness.getStates().values()].find(
        (st) => (st['user'] as { name?: string } | undefined)?.name === name,
      )?.['file'];
    await waitFor(() => fileOf(a, 'bob') === 'index.html', 5000, 'ada sees bob move after eve arrived');
    expect(names(elsewhere)).toEqual(['eve']);
    expect(names(a)).not.toContain('eve');
  });

  it('coalesces a burst of cursor moves and removes a user who leaves at once', async () => {
    const shardId = await createShard(apps[0]!.url);
    const mover = await session(shardId, 0);
    const watcherClient = await t.client(1);
    let received = 0;
    watcherClient.socket.on('presence:updated', () => received++);
    const watcher = await watcherClient.join(shardId);
    mover.setPresence({ user: { name: 'mover', color: '#123' }, cursor: 0 });
    await waitFor(() => names(watcher).includes('mover'), 5000);
    received = 0;
    for (let i = 1; i <= 100; i++) mover.setPresence({ cursor: i });
    await waitFor(
      () => [...watcher.awareness.getStates().values()].some((st) => st['cursor'] === 100),
      5000,
      'last cursor position',
    );
    expect(received).toBeLessThan(20);
    await mover.leave();
    await waitFor(() => !names(watcher).includes('mover'), 2000, 'leaver removed');
  });

  it('refuses presence updates for a client id owned by another connection', async () => {
    const shardId = await createShard(apps[0]!.url);
    const victim = await session(shardId, 0);
    victim.setPresence({ user: { name: 'victim', color: '#111' } });
    const raw = io(apps[0]!.url, {
      transports: ['websocket'],
      auth: { token: await adminToken() },
      reconnection: false,
    });
    try {
      await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
      expect(((await raw.timeout(5000).emitWithAck('shard:join', { shardId })) as Ack<unknown>).ok).toBe(true);
      const forged = new Awareness(new Y.Doc());
      forged.clientID = victim.awareness.clientID;
      forged.setLocalState({ user: { name: 'impostor', color: '#666' } });
      forged.meta.set(forged.clientID, { clock: 999, lastUpdated: Date.now() });
      await waitFor(() => true, 10);
      const ack = (await raw.timeout(5000).emitWithAck('presence:update', {
        shardId,
        update: encodeAwarenessUpdate(forged, [forged.clientID]),
      })) as Ack<unknown>;
      expect(ack.ok).toBe(false);
      if (!ack.ok) expect(ack.error.code).toBe('FORBIDDEN');
    } finally {
      raw.disconnect();
    }
  });
});
