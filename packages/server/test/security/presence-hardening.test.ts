/**
 * Presence abuse (issue 12, items 5 and 7): a viewer growing the client-id table without limit,
 * a socket on one instance speaking for a client id owned on another, and presence fields that
 * reach collaborators' CSS. In-process, so the worst event-loop stall is measured and printed.
 */
import { worstStall } from '../support/event-loop-stall.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import * as encoding from 'lib0/encoding';
import type { Ack, ShardId } from '@tandem/protocol';
import { useTandem } from '../support/harness.js';
import { createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { decodeAwarenessUpdate } from '../../src/realtime/index.js';

const sockets: Socket[] = [];

/** An awareness update (y-protocols encoding) with these entries. */
function awareness(entries: Array<[clientId: number, clock: number, state: unknown]>): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [clientId, clock, state] of entries) {
    encoding.writeVarUint(e, clientId);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, JSON.stringify(state));
  }
  return encoding.toUint8Array(e);
}

async function joined(url: string, shardId: ShardId, access: 'read' | 'write', sub?: string): Promise<Socket> {
  const token = await tokenFor({ ...(sub === undefined ? {} : { sub }), shards: { [shardId]: access } });
  const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const ack = (await socket.emitWithAck('shard:join', { shardId })) as Ack<unknown>;
  if (!ack.ok) throw new Error(ack.error.code);
  return socket;
}

async function presence(socket: Socket, shardId: ShardId, update: Uint8Array): Promise<string> {
  const ack = (await socket.timeout(30_000).emitWithAck('presence:update', { shardId, update })) as Ack<unknown>;
  return ack.ok ? 'ok' : ack.error.code;
}

/** What an observer socket has seen of each client id (the latest state, 'null' once removed). */
function observe(socket: Socket): Map<number, string> {
  const seen = new Map<number, string>();
  socket.on('presence:updated', ({ update }: { update: ArrayBuffer }) => {
    for (const [clientId, entry] of decodeAwarenessUpdate(new Uint8Array(update)) ?? [])
      seen.set(clientId, entry.state);
  });
  return seen;
}

describe('presence hardening', () => {
  const t = useTandem({ instances: 2, env: { RATE_EVENTS_PER_SECOND: '100000', RATE_EVENTS_BURST: '1000000' } });
  let shardId: ShardId;

  beforeAll(async () => {
    shardId = await createShard(t.url());
  });
  afterAll(() => {
    for (const s of sockets) s.close();
  });

  it('caps the client ids one socket may speak for, and its leave stays cheap (item 5)', async () => {
    const viewer = await joined(t.url(0), shardId, 'read');
    const members = () => t.apps[0]!.app.cache.members.count(shardId);
    const membersBefore = await members();
    let next = 1_000_000;
    const updates = Array.from({ length: 200 }, () =>
      awareness(Array.from({ length: 1000 }, () => [next++, 1, { user: { name: 'x', color: '#123456' } }])),
    );
    const { result: outcomes, stallMs } = await worstStall(async () => {
      const out = await Promise.all(updates.map((u) => presence(viewer, shardId, u)));
      viewer.close();
      // The server handled the leave (presence first, then membership).
      await waitFor(async () => (await members()) < membersBefore, 30_000, 'the viewer’s leave');
      return out;
    });
    console.log(
      `[stall] 200 presence updates of 1,000 new client ids, then leave: worst event-loop stall ${stallMs.toFixed(1)} ms`,
    );
    expect(new Set(outcomes)).toEqual(new Set(['FORBIDDEN']));
    expect(stallMs).toBeLessThan(500);

    // Up to four ids per socket are fine (an editor uses one).
    const editor = await joined(t.url(0), shardId, 'write');
    const four = awareness([1, 2, 3, 4].map((id) => [id, 1, { user: { name: 'Ed', color: '#abcdef' } }]));
    expect(await presence(editor, shardId, four)).toBe('ok');
    expect(await presence(editor, shardId, awareness([[5, 1, { user: { name: 'Ed' } }]]))).toBe('FORBIDDEN');
    // Removing one frees a slot.
    expect(await presence(editor, shardId, awareness([[4, 2, null]]))).toBe('ok');
    expect(await presence(editor, shardId, awareness([[5, 1, { user: { name: 'Ed' } }]]))).toBe('ok');
  });

  it('refuses a socket on another instance that rewrites or removes someone’s presence (item 5)', async () => {
    const alice = await joined(t.url(0), shardId, 'write', 'alice');
    const observer = await joined(t.url(0), shardId, 'read');
    const seen = observe(observer);
    const aliceId = 424242;
    const aliceState = { user: { name: 'Alice', color: '#e11d48' } };
    expect(await presence(alice, shardId, awareness([[aliceId, 1, aliceState]]))).toBe('ok');
    await waitFor(() => seen.get(aliceId) !== undefined, 5000, 'Alice’s presence');

    const mallory = await joined(t.url(1), shardId, 'read', 'mallory');
    const forged = { user: { name: 'Alice (hacked)', color: '#000000' } };
    expect(await presence(mallory, shardId, awareness([[aliceId, 5, forged]]))).toBe('FORBIDDEN');
    expect(await presence(mallory, shardId, awareness([[aliceId, 6, null]]))).toBe('FORBIDDEN');
    // On Alice's own instance too.
    const mallory0 = await joined(t.url(0), shardId, 'read', 'mallory');
    expect(await presence(mallory0, shardId, awareness([[aliceId, 7, forged]]))).toBe('FORBIDDEN');
    // Alice keeps updating; the observer never saw the forgery.
    expect(await presence(alice, shardId, awareness([[aliceId, 2, { ...aliceState, cursor: 3 }]]))).toBe('ok');
    await waitFor(() => seen.get(aliceId)?.includes('"cursor":3'), 5000, 'Alice’s second update');
    expect(seen.get(aliceId)).toBe(JSON.stringify({ ...aliceState, cursor: 3 }));

    // Once Alice has left, her id is free again.
    alice.close();
    await waitFor(() => seen.get(aliceId) === 'null', 5000, 'Alice’s leave');
    await waitFor(
      async () => (await presence(mallory, shardId, awareness([[aliceId, 9, { user: { name: 'M' } }]]))) === 'ok',
      5000,
      'the released id',
    );
  });

  it('relays only hex colours and printable, short names (item 7)', async () => {
    const sender = await joined(t.url(0), shardId, 'write');
    const observer = await joined(t.url(1), shardId, 'read');
    const seen = observe(observer);
    const overlay = 'red;position:fixed;inset:0;z-index:99999;background-image:url(https://attacker.test/x)';
    const refused: Array<[string, unknown]> = [
      ['a CSS payload as colour', { user: { name: 'M', color: overlay } }],
      ['a CSS payload as light colour', { user: { name: 'M', color: '#123456', colorLight: `#fff;${overlay}` } }],
      ['a colour name', { user: { name: 'M', color: 'red' } }],
      ['a bidi override in the name', { user: { name: 'evil\u202Egpj.exe', color: '#123456' } }],
      ['a zero-width name', { user: { name: '\u200B', color: '#123456' } }],
      ['a newline in the name', { user: { name: 'a\nb' } }],
      ['a 65-character name', { user: { name: 'n'.repeat(65) } }],
      ['a name that is not a string', { user: { name: { toString: 'x' } } }],
      ['a user that is not an object', { user: 'Mallory' }],
    ];
    for (const [what, state] of refused) {
      expect(await presence(sender, shardId, awareness([[777, 1, state]])), what).toBe('VALIDATION_FAILED');
    }
    const fine = { user: { name: 'Zoë 🦊', color: '#2563eb', colorLight: '#2563eb33' }, cursor: null };
    expect(await presence(sender, shardId, awareness([[777, 2, fine]]))).toBe('ok');
    await waitFor(() => seen.get(777), 5000, 'the valid presence');
    expect(seen.get(777)).toBe(JSON.stringify(fine));
  });
});
