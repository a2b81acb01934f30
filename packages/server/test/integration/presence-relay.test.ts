import { randomUUID } from 'node:crypto';
import * as encoding from 'lib0/encoding';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Doc } from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { ShardId } from '@tandem/protocol';
import { decodeAwarenessUpdate } from '../../src/realtime/index.js';
import { MAX_CLIENT_IDS_PER_SOCKET, PresenceRelay } from '../../src/realtime/presence-relay.js';
import { presenceOwnersKey } from '../../src/redis/index.js';
import { Membership } from '../../src/shard-cache/index.js';
import { createTestRedis, testRedisKeys, uniquePrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

const TICK_MS = 20;
/** Long enough that no member or claim lapses during a test unless the test says so. */
const LONG_TTL_MS = 60_000;

/** A y-protocols awareness update: clientId → [clock, state] (state null = removed). */
function update(entries: Array<[clientId: number, clock: number, state: unknown]>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const [clientId, clock, state] of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, JSON.stringify(state ?? null));
  }
  return encoding.toUint8Array(encoder);
}

const newShard = (): ShardId => randomUUID() as ShardId;

/**
 * PresenceRelay against real Redis: one "instance" is a relay plus the shard membership its app
 * keeps (sockets are live members `<instanceId>:<socketId>`, as shard:join registers them), so
 * client-id claims are checked cluster-wide exactly as in production. Two instances share one
 * prefix, like two server processes of one cluster.
 */
describe('PresenceRelay', () => {
  const prefix = uniquePrefix();
  const redis = createTestRedis();
  const logger = pino({ level: 'silent' });
  const started: Instance[] = [];

  type Instance = {
    instanceId: string;
    relay: PresenceRelay;
    members: Membership;
    emitted: Array<[ShardId, Uint8Array]>;
    /** Registers the socket as a live member of the shard (what shard:join does). */
    join(shardId: ShardId, socketId: string): Promise<void>;
    /** What leaving does: presence announced gone and released, then the membership removed. */
    leave(shardId: ShardId, socketId: string): Promise<void>;
    /** Waits for one more tick of this relay; whatever was queued before it has been emitted. */
    barrier(): Promise<void>;
    /** The emitted messages, decoded, without the barrier's: [shardId, clientId → { clock, state }]. */
    decoded(): Array<readonly [ShardId, Record<string, { clock: number; state: unknown }>]>;
  };

  function startInstance(options: { memberTtlMs?: number; claimTtlMs?: number } = {}): Instance {
    const instanceId = `inst-${randomUUID().slice(0, 8)}`;
    const emitted: Array<[ShardId, Uint8Array]> = [];
    const relay = new PresenceRelay({
      emit: (shardId, bytes) => emitted.push([shardId, bytes]),
      redis,
      keyPrefix: prefix,
      instanceId,
      claimTtlMs: options.claimTtlMs ?? LONG_TTL_MS,
      tickMs: TICK_MS,
    });
    const members = new Membership({
      redis,
      keyPrefix: prefix,
      logger,
      instanceId,
      memberTtlMs: options.memberTtlMs ?? LONG_TTL_MS,
      heartbeatMs: LONG_TTL_MS,
    });
    const barrierShard = newShard();
    let barrierClock = 0;
    const inst: Instance = {
      instanceId,
      relay,
      members,
      emitted,
      async join(shardId, socketId) {
        const member = members.socketMember(socketId);
        await members.add(shardId, member);
        members.addLocal(shardId, member);
      },
      async leave(shardId, socketId) {
        await relay.removeSocket(shardId, socketId);
        const member = members.socketMember(socketId);
        members.removeLocal(shardId, member);
        await members.remove(shardId, member);
      },
      async barrier() {
        const clock = ++barrierClock;
        expect(await relay.push(barrierShard, 'barrier', update([[1, clock, { barrier: clock }]]))).toBe('ok');
        await waitFor(
          () =>
            emitted.some(
              ([shardId, bytes]) => shardId === barrierShard && decodeAwarenessUpdate(bytes)?.get(1)?.clock === clock,
            ),
          undefined,
          'the barrier tick',
        );
      },
      decoded() {
        return emitted
          .filter(([shardId]) => shardId !== barrierShard)
          .map(([shardId, bytes]) => {
            const entries = decodeAwarenessUpdate(bytes);
            if (entries === null) throw new Error('the relay emitted a malformed update');
            return [
              shardId,
              Object.fromEntries(
                [...entries].map(([id, e]) => [id, { clock: e.clock, state: JSON.parse(e.state) as unknown }]),
              ),
            ] as const;
          });
      },
    };
    started.push(inst);
    return inst;
  }

  /** Who holds which client id of the shard in Redis: clientId → `<instanceId>:<socketId>`. */
  const owners = (shardId: ShardId) => redis.hgetall(presenceOwnersKey(prefix, shardId));

  afterEach(() => {
    for (const inst of started.splice(0)) {
      inst.relay.close();
      inst.members.close();
    }
  });

  afterAll(async () => {
    for (const key of await testRedisKeys(redis, `${prefix}:*`)) await redis.del(key);
    await redis.quit();
  });

  it('coalesces a tick of updates into one message per shard with the newest state of each client', async () => {
    const a = startInstance();
    const [s1, s2] = [newShard(), newShard()];
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b'), a.join(s2, 'c')]);
    expect(await a.relay.push(s1, 'a', update([[1, 1, { cursor: 0 }]]))).toBe('ok');
    expect(await a.relay.push(s1, 'b', update([[2, 1, { cursor: 0 }]]))).toBe('ok');
    expect(await a.relay.push(s2, 'c', update([[3, 4, { cursor: 0 }]]))).toBe('ok');
    await a.barrier();
    a.emitted.length = 0;

    // Ids already owned need no round trip: these four are queued at once, within one tick.
    const outcomes = Promise.all([
      a.relay.push(s1, 'a', update([[1, 2, { cursor: 1 }]])),
      a.relay.push(s1, 'a', update([[1, 3, { cursor: 2 }]])),
      a.relay.push(s1, 'b', update([[2, 2, { cursor: 9 }]])),
      a.relay.push(s2, 'c', update([[3, 5, { cursor: 3 }]])),
    ]);
    expect(await outcomes).toEqual(['ok', 'ok', 'ok', 'ok']);
    await a.barrier();
    expect(a.decoded()).toEqual([
      [s1, { 1: { clock: 3, state: { cursor: 2 } }, 2: { clock: 2, state: { cursor: 9 } } }],
      [s2, { 3: { clock: 5, state: { cursor: 3 } } }],
    ]);
  });

  it('keeps the higher clock when an older update arrives later in the same tick', async () => {
    const a = startInstance();
    const s1 = newShard();
    await a.join(s1, 'a');
    expect(await a.relay.push(s1, 'a', update([[1, 1, { v: 'first' }]]))).toBe('ok');
    await a.barrier();
    a.emitted.length = 0;

    const outcomes = Promise.all([
      a.relay.push(s1, 'a', update([[1, 7, { v: 'new' }]])),
      a.relay.push(s1, 'a', update([[1, 6, { v: 'old' }]])),
    ]);
    expect(await outcomes).toEqual(['ok', 'ok']);
    await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 7, state: { v: 'new' } } }]]);
  });

  it('sends nothing when nothing changed, and a new tick after the next update', async () => {
    const a = startInstance();
    const s1 = newShard();
    await a.join(s1, 'a');
    expect(await a.relay.push(s1, 'a', update([[1, 1, { n: 1 }]]))).toBe('ok');
    // Three ticks of the relay's own timer pass (each barrier waits for one).
    for (let i = 0; i < 3; i++) await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 1, state: { n: 1 } } }]]);
    expect(await a.relay.push(s1, 'a', update([[1, 2, { n: 2 }]]))).toBe('ok');
    await a.barrier();
    expect(a.decoded()).toEqual([
      [s1, { 1: { clock: 1, state: { n: 1 } } }],
      [s1, { 1: { clock: 2, state: { n: 2 } } }],
    ]);
  });

  it('a client id belongs to the first socket that used it: another socket may not move or remove it', async () => {
    const a = startInstance();
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b')]);
    expect(await a.relay.push(s1, 'a', update([[1, 1, { user: { name: 'Ann' } }]]))).toBe('ok');
    expect(await a.relay.push(s1, 'b', update([[1, 2, { user: { name: 'Mallory' } }]]))).toBe('not-yours');
    expect(await a.relay.push(s1, 'b', update([[1, 2, null]]))).toBe('not-yours');
    // One foreign entry refuses the whole update, including the sender's own entries.
    const mixed = update([
      [2, 1, { user: { name: 'Bob' } }],
      [1, 3, {}],
    ]);
    expect(await a.relay.push(s1, 'b', mixed)).toBe('not-yours');
    await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 1, state: { user: { name: 'Ann' } } } }]]);
    expect(await owners(s1)).toEqual({ 1: `${a.instanceId}:a` });
  });

  it('two sockets of one instance using a new id at once: exactly one gets it', async () => {
    const a = startInstance();
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b')]);
    const outcomes = await Promise.all([
      a.relay.push(s1, 'a', update([[1, 1, { by: 'a' }]])),
      a.relay.push(s1, 'b', update([[1, 1, { by: 'b' }]])),
    ]);
    expect([...outcomes].sort()).toEqual(['not-yours', 'ok']);
    const winner = outcomes[0] === 'ok' ? 'a' : 'b';
    expect(await owners(s1)).toEqual({ 1: `${a.instanceId}:${winner}` });
    await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 1, state: { by: winner } } }]]);
  });

  it('the same race with both members lapsed (Redis no longer tells them apart): still exactly one', async () => {
    const a = startInstance({ memberTtlMs: 50 });
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b')]);
    await waitFor(async () => (await a.members.count(s1)) === 0, undefined, 'the members lapsed');
    const outcomes = await Promise.all([
      a.relay.push(s1, 'a', update([[1, 1, { by: 'a' }]])),
      a.relay.push(s1, 'b', update([[1, 1, { by: 'b' }]])),
    ]);
    expect([...outcomes].sort()).toEqual(['not-yours', 'ok']);
    const winner = outcomes[0] === 'ok' ? 'a' : 'b';
    await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 1, state: { by: winner } } }]]);
    // The refused socket gave its fresh claim back: Redis names nobody but the winner.
    expect(Object.values(await owners(s1)).filter((m) => m !== `${a.instanceId}:${winner}`)).toEqual([]);
  });

  it('ownership is per shard', async () => {
    const a = startInstance();
    const [s1, s2] = [newShard(), newShard()];
    await Promise.all([a.join(s1, 'a'), a.join(s2, 'b')]);
    expect(await a.relay.push(s1, 'a', update([[1, 1, {}]]))).toBe('ok');
    expect(await a.relay.push(s2, 'b', update([[1, 1, {}]]))).toBe('ok');
  });

  it('a client id its owner removed (state null) is released and may be used by another socket', async () => {
    const a = startInstance();
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b')]);
    expect(await a.relay.push(s1, 'a', update([[1, 1, { user: { name: 'Ann' } }]]))).toBe('ok');
    expect(await a.relay.push(s1, 'a', update([[1, 2, null]]))).toBe('ok');
    expect(await owners(s1)).toEqual({});
    expect(await a.relay.push(s1, 'b', update([[1, 3, { user: { name: 'Bob' } }]]))).toBe('ok');
    expect(await owners(s1)).toEqual({ 1: `${a.instanceId}:b` });
  });

  it('on leave, announces only that socket’s clients as gone, with the next clock, and releases their ids', async () => {
    const a = startInstance();
    const b = startInstance();
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), a.join(s1, 'b'), b.join(s1, 'c')]);
    const twoTabs = update([
      [1, 4, { user: { name: 'Ann' } }],
      [11, 2, { user: { name: 'Ann, 2nd tab' } }],
    ]);
    expect(await a.relay.push(s1, 'a', twoTabs)).toBe('ok');
    expect(await a.relay.push(s1, 'b', update([[2, 9, { user: { name: 'Bob' } }]]))).toBe('ok');
    await a.barrier();
    a.emitted.length = 0;

    await a.leave(s1, 'a');
    await a.barrier();
    expect(a.decoded()).toEqual([[s1, { 1: { clock: 5, state: null }, 11: { clock: 3, state: null } }]]);
    expect(await owners(s1)).toEqual({ 2: `${a.instanceId}:b` });
    // Freed cluster-wide: a socket of the other instance may take them; Bob's stays his.
    expect(await b.relay.push(s1, 'c', update([[1, 6, {}]]))).toBe('ok');
    expect(await b.relay.push(s1, 'c', update([[11, 3, {}]]))).toBe('ok');
    expect(await b.relay.push(s1, 'c', update([[2, 10, {}]]))).toBe('not-yours');
    expect(await a.relay.push(s1, 'a', update([[1, 7, {}]]))).toBe('not-yours');
  });

  it('a leave of a socket with no presence, or in a shard it has none in, sends nothing', async () => {
    const a = startInstance();
    const [s1, s2] = [newShard(), newShard()];
    await a.join(s1, 'a');
    expect(await a.relay.push(s1, 'a', update([[1, 1, {}]]))).toBe('ok');
    await a.barrier();
    a.emitted.length = 0;
    await a.relay.removeSocket(s1, 'nobody');
    await a.relay.removeSocket(s2, 'a');
    await a.barrier();
    expect(a.decoded()).toEqual([]);
    expect(await owners(s1)).toEqual({ 1: `${a.instanceId}:a` });
  });

  it('what it emits is a y-protocols awareness update a client applies', async () => {
    const a = startInstance();
    const s1 = newShard();
    await a.join(s1, 'a');
    const sender = new Awareness(new Doc());
    const receiver = new Awareness(new Doc());
    try {
      const state = { user: { name: 'Ann', color: '#30bced' }, cursor: { anchor: 1, head: 4 } };
      sender.setLocalState(state);
      expect(await a.relay.push(s1, 'a', encodeAwarenessUpdate(sender, [sender.clientID]))).toBe('ok');
      await waitFor(() => a.emitted.find(([shardId]) => shardId === s1), undefined, 'the relayed update');
      applyAwarenessUpdate(receiver, a.emitted.find(([shardId]) => shardId === s1)![1], 'test');
      expect(receiver.getStates().get(sender.clientID)).toEqual(state);
    } finally {
      sender.destroy();
      receiver.destroy();
    }
  });

  describe('refuses malformed updates without queueing or claiming anything', () => {
    const valid = update([[1, 1, { ok: true }]]);
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(),
      truncated: valid.subarray(0, valid.length - 2),
      'trailing bytes': new Uint8Array([...valid, 0]),
      'count larger than the entries': new Uint8Array([2, ...valid.subarray(1)]),
      'state that is not JSON': (() => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 1);
        encoding.writeVarUint(e, 1);
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, '{nope');
        return encoding.toUint8Array(e);
      })(),
      'more than 1000 entries': (() => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 1001);
        return encoding.toUint8Array(e);
      })(),
      'state bytes that are not UTF-8 JSON': new Uint8Array([1, 1, 1, 2, 0xc3, 0x28]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      it(name, async () => {
        const a = startInstance();
        const b = startInstance();
        const s1 = newShard();
        await Promise.all([a.join(s1, 'a'), b.join(s1, 'b')]);
        expect(await a.relay.push(s1, 'a', bytes)).toBe('malformed');
        await a.barrier();
        expect(a.decoded()).toEqual([]);
        expect(await owners(s1)).toEqual({});
        expect(await b.relay.push(s1, 'b', valid)).toBe('ok');
      });
    }
  });

  describe('refuses a state whose user fields editors would render unsafely, claiming nothing', () => {
    const cases: Record<string, unknown> = {
      'user that is a string': { user: 'Ann' },
      'user that is an array': { user: ['Ann'] },
      'state that is not an object': 42,
      'empty name': { user: { name: '' } },
      'blank name': { user: { name: '   ' } },
      'name of 65 characters': { user: { name: 'x'.repeat(65) } },
      'name that is not a string': { user: { name: 7 } },
      'name with a control character': { user: { name: 'Ann\u0007' } },
      'name with a bidi override': { user: { name: '\u202eAnn' } },
      'name with a line separator': { user: { name: 'Ann\u2028Bob' } },
      'colour with CSS after it': { user: { name: 'Ann', color: 'red;position:fixed;inset:0' } },
      'colour that is a name': { user: { color: 'red' } },
      'colourLight of 5 hex digits': { user: { colorLight: '#12345' } },
    };
    for (const [name, state] of Object.entries(cases)) {
      it(name, async () => {
        const a = startInstance();
        const s1 = newShard();
        await a.join(s1, 'a');
        expect(await a.relay.push(s1, 'a', update([[1, 1, state]]))).toBe('invalid-user');
        // One bad entry refuses the update with the good ones in it.
        const alongside = update([
          [2, 1, { user: { name: 'Bob' } }],
          [1, 1, state],
        ]);
        expect(await a.relay.push(s1, 'a', alongside)).toBe('invalid-user');
        await a.barrier();
        expect(a.decoded()).toEqual([]);
        expect(await owners(s1)).toEqual({});
      });
    }

    it('relays the edges that are fine: a 64-character name with emoji, #rgb, #rgba and #rrggbbaa colours, no user', async () => {
      const a = startInstance();
      const s1 = newShard();
      await a.join(s1, 'a');
      const fine = [
        { user: { name: `${'x'.repeat(62)}🦊🦊`, color: '#abc', colorLight: '#abcd' } },
        { user: { name: 'Ann', color: '#30bced80' } },
        { cursor: 1 },
      ];
      const entries = fine.map((state, i): [number, number, unknown] => [i + 1, 1, state]);
      expect(await a.relay.push(s1, 'a', update(entries))).toBe('ok');
      await a.barrier();
      expect(a.decoded()).toEqual([[s1, Object.fromEntries(fine.map((state, i) => [i + 1, { clock: 1, state }]))]]);
    });
  });

  describe(`one socket speaks for at most ${MAX_CLIENT_IDS_PER_SOCKET} client ids per shard`, () => {
    it('is the protocol’s 4', () => {
      expect(MAX_CLIENT_IDS_PER_SOCKET).toBe(4);
    });

    it('refuses an update with more entries than that, claiming none of them', async () => {
      const a = startInstance();
      const s1 = newShard();
      await a.join(s1, 'a');
      const five = update([1, 2, 3, 4, 5].map((id): [number, number, unknown] => [id, 1, {}]));
      expect(await a.relay.push(s1, 'a', five)).toBe('too-many-client-ids');
      await a.barrier();
      expect(a.decoded()).toEqual([]);
      expect(await owners(s1)).toEqual({});
    });

    it('refuses a longer update before reading its states', async () => {
      const a = startInstance();
      const s1 = newShard();
      await a.join(s1, 'a');
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 5);
      for (let id = 1; id <= 5; id++) {
        encoding.writeVarUint(e, id);
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, id === 5 ? '{not json' : 'null');
      }
      expect(await a.relay.push(s1, 'a', encoding.toUint8Array(e))).toBe('too-many-client-ids');
      expect(await owners(s1)).toEqual({});
    });

    it('refuses a fifth id in a later update; a null state frees a slot', async () => {
      const a = startInstance();
      const s1 = newShard();
      await Promise.all([a.join(s1, 'a'), a.join(s1, 'b')]);
      const four = update([1, 2, 3, 4].map((id): [number, number, unknown] => [id, 1, {}]));
      expect(await a.relay.push(s1, 'a', four)).toBe('ok');
      expect(await a.relay.push(s1, 'a', update([[5, 1, {}]]))).toBe('too-many-client-ids');
      // Updating the ids it holds is still fine, and another socket is not limited by this one.
      expect(await a.relay.push(s1, 'a', update([[4, 2, { moved: true }]]))).toBe('ok');
      expect(await a.relay.push(s1, 'b', update([[5, 1, {}]]))).toBe('ok');
      expect(await a.relay.push(s1, 'a', update([[6, 1, {}]]))).toBe('too-many-client-ids');
      expect(await a.relay.push(s1, 'a', update([[4, 3, null]]))).toBe('ok');
      expect(await a.relay.push(s1, 'a', update([[6, 1, {}]]))).toBe('ok');
      expect(Object.keys(await owners(s1)).sort()).toEqual(['1', '2', '3', '5', '6']);
    });
  });

  describe('client ids are owned cluster-wide', () => {
    it('a socket of another instance can neither rewrite nor remove an id, and a mixed update claims nothing', async () => {
      const a = startInstance();
      const b = startInstance();
      const s1 = newShard();
      await Promise.all([a.join(s1, 'a'), b.join(s1, 'b')]);
      expect(await a.relay.push(s1, 'a', update([[1, 1, { user: { name: 'Ann' } }]]))).toBe('ok');
      expect(await b.relay.push(s1, 'b', update([[1, 2, { user: { name: 'Mallory' } }]]))).toBe('not-yours');
      expect(await b.relay.push(s1, 'b', update([[1, 2, null]]))).toBe('not-yours');
      const mixed = update([
        [2, 1, { user: { name: 'Bob' } }],
        [1, 3, {}],
      ]);
      expect(await b.relay.push(s1, 'b', mixed)).toBe('not-yours');
      await b.barrier();
      expect(b.decoded()).toEqual([]);
      expect(await owners(s1)).toEqual({ 1: `${a.instanceId}:a` });
      // The refused id 2 was not claimed either: a socket of the first instance may take it.
      expect(await a.relay.push(s1, 'a', update([[2, 1, {}]]))).toBe('ok');
    });

    it('ids are released on leave: the other instance may then use them', async () => {
      const a = startInstance();
      const b = startInstance();
      const s1 = newShard();
      await Promise.all([a.join(s1, 'a'), b.join(s1, 'b')]);
      expect(await a.relay.push(s1, 'a', update([[1, 1, { user: { name: 'Ann' } }]]))).toBe('ok');
      expect(await b.relay.push(s1, 'b', update([[1, 2, {}]]))).toBe('not-yours');
      await a.leave(s1, 'a');
      expect(await owners(s1)).toEqual({});
      expect(await b.relay.push(s1, 'b', update([[1, 2, { user: { name: 'Bob' } }]]))).toBe('ok');
      expect(await owners(s1)).toEqual({ 1: `${b.instanceId}:b` });
      await b.barrier();
      expect(b.decoded()).toEqual([[s1, { 1: { clock: 2, state: { user: { name: 'Bob' } } } }]]);
    });

    it('a claim lapses when its member expires (its instance died without releasing)', async () => {
      const memberTtlMs = 300;
      // The claim itself outlives the member: what frees the id is that its holder is no live member.
      const dying = startInstance({ memberTtlMs, claimTtlMs: LONG_TTL_MS });
      const b = startInstance();
      const s1 = newShard();
      await Promise.all([dying.join(s1, 'a'), b.join(s1, 'b')]);
      expect(await dying.relay.push(s1, 'a', update([[1, 1, {}]]))).toBe('ok');
      expect(await b.relay.push(s1, 'b', update([[1, 2, {}]]))).toBe('not-yours');
      // No heartbeat: the dying instance's member expires after memberTtlMs; only b's is left.
      await waitFor(async () => (await b.members.count(s1)) === 1, undefined, 'the member expired');
      expect(await owners(s1)).toEqual({ 1: `${dying.instanceId}:a` });
      expect(await b.relay.push(s1, 'b', update([[1, 2, { user: { name: 'Bob' } }]]))).toBe('ok');
      expect(await owners(s1)).toEqual({ 1: `${b.instanceId}:b` });
    });

    it('claims live claimTtlMs; refresh renews them in the shards this instance holds ids in, only', async () => {
      const claimTtlMs = 30_000;
      const a = startInstance({ claimTtlMs });
      const b = startInstance({ claimTtlMs });
      const [s1, s2] = [newShard(), newShard()];
      await Promise.all([a.join(s1, 'a'), b.join(s2, 'b')]);
      expect(await a.relay.push(s1, 'a', update([[1, 1, {}]]))).toBe('ok');
      expect(await b.relay.push(s2, 'b', update([[1, 1, {}]]))).toBe('ok');
      const ttl = (shardId: ShardId) => redis.pttl(presenceOwnersKey(prefix, shardId));
      expect(await ttl(s1)).toBeGreaterThan(claimTtlMs / 2);
      expect(await ttl(s1)).toBeLessThanOrEqual(claimTtlMs);
      await redis.pexpire(presenceOwnersKey(prefix, s1), 5_000);
      await redis.pexpire(presenceOwnersKey(prefix, s2), 5_000);
      await a.relay.refresh([s1, s2]);
      expect(await ttl(s1)).toBeGreaterThan(claimTtlMs / 2);
      expect(await ttl(s2)).toBeLessThanOrEqual(5_000);
    });
  });

  it('a socket that left during the claim’s round trip keeps nothing', async () => {
    const a = startInstance();
    const b = startInstance();
    const s1 = newShard();
    await Promise.all([a.join(s1, 'a'), b.join(s1, 'b')]);
    expect(await a.relay.push(s1, 'a', update([[1, 1, {}]]), () => false)).toBe('ok');
    await a.barrier();
    expect(a.decoded()).toEqual([]);
    expect(await owners(s1)).toEqual({});
    expect(await b.relay.push(s1, 'b', update([[1, 2, {}]]))).toBe('ok');
  });

  it('keeps at most 1000 clients of one shard per tick (further new client ids are dropped from it)', async () => {
    const a = startInstance();
    const s1 = newShard();
    const sockets = Array.from({ length: 1001 }, (_, i) => `s${i}`);
    await Promise.all(sockets.map((socketId) => a.join(s1, socketId)));
    const first = await Promise.all(sockets.map((socketId, i) => a.relay.push(s1, socketId, update([[i, 1, {}]]))));
    expect(first.every((outcome) => outcome === 'ok')).toBe(true);
    await a.barrier();
    a.emitted.length = 0;

    // All ids are owned, so these are queued at once, in one tick: 1000 fit, the 1001st does not.
    const outcomes = Promise.all([
      ...sockets.map((socketId, i) => a.relay.push(s1, socketId, update([[i, 2, { late: i === 1000 }]]))),
      // A client already pending still gets its newer state.
      a.relay.push(s1, 's0', update([[0, 3, { moved: true }]])),
    ]);
    expect((await outcomes).every((outcome) => outcome === 'ok')).toBe(true);
    await a.barrier();
    const messages = a.decoded();
    expect(messages).toHaveLength(1);
    const [, entries] = messages[0]!;
    expect(Object.keys(entries)).toHaveLength(1000);
    expect(entries['1000']).toBeUndefined();
    expect(entries['0']).toEqual({ clock: 3, state: { moved: true } });
  });

  it('close drops what is pending: nothing of it is emitted afterwards', async () => {
    const a = startInstance();
    const s1 = newShard();
    await a.join(s1, 'a');
    expect(await a.relay.push(s1, 'a', update([[1, 1, {}]]))).toBe('ok');
    a.relay.close();
    // The barrier's tick comes after the one that would have carried the dropped update.
    await a.barrier();
    expect(a.decoded()).toEqual([]);
  });
});
