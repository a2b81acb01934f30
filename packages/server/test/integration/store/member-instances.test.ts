import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FileId, ShardId } from '@tandem/protocol';
import { Membership, updateToText } from '../../../src/shard-cache/index.js';
import { createStore, type Store } from './store-harness.js';

/**
 * Which instances have sockets in a shard (`member-instances`), as the member scripts keep it and
 * the edit script reads it: an edit from the only instance with sockets in the shard is not
 * published to the others (docs/internals.md, "Edits nobody else needs").
 */
describe('member instances', () => {
  let store: Store;
  let other: Membership;
  let shortLived: Membership;
  beforeAll(async () => {
    store = await createStore();
    const deps = { redis: store.redis, keyPrefix: store.prefix, logger: pino({ level: 'silent' }) };
    other = new Membership({ ...deps, instanceId: 'other', memberTtlMs: 60_000, heartbeatMs: 10_000 });
    shortLived = new Membership({ ...deps, instanceId: 'brief', memberTtlMs: 1000, heartbeatMs: 50 });
  });
  afterAll(async () => {
    await store.close();
  });

  const self = 'store-test';
  let n = 0;
  /** Stores one more character as an edit from `from`; → whether another instance may need it. */
  async function edit(shardId: ShardId, id: FileId, from: string | null = self): Promise<boolean> {
    const update = updateToText(await store.cache.files.updates(shardId, id), `${'x'.repeat(++n)}`);
    if (update === null) throw new Error('no change');
    return (await store.cache.files.appendEdit(shardId, id, update, { fromInstance: from ?? undefined })).othersPresent;
  }

  it('an edit is for this instance alone only while no other instance has a live socket member', async () => {
    const shardId = await store.open({ 'a.txt': '' });
    const id = await store.idOf(shardId, 'a.txt');
    const members = store.cache.members;
    // Nothing recorded, not even this instance: nothing is known, so publish.
    expect(await edit(shardId, id)).toBe(true);
    await members.add(shardId, members.socketMember('s1'));
    expect(await edit(shardId, id)).toBe(false);
    // A REST write's member has no sockets to tell.
    await members.add(shardId, 'rest:1234');
    expect(await edit(shardId, id)).toBe(false);
    // Without the editing instance (a REST edit): always published.
    expect(await edit(shardId, id, null)).toBe(true);
    // Another instance joins with two sockets; it counts until its last one left.
    await other.add(shardId, other.socketMember('t1'));
    expect(await edit(shardId, id)).toBe(true);
    await other.add(shardId, other.socketMember('t2'));
    await other.remove(shardId, other.socketMember('t1'));
    expect(await edit(shardId, id)).toBe(true);
    await other.remove(shardId, other.socketMember('t2'));
    expect(await edit(shardId, id)).toBe(false);
    // This instance's leaving does not drop it while another of its sockets is in.
    await members.add(shardId, members.socketMember('s2'));
    await members.remove(shardId, members.socketMember('s1'));
    expect(await edit(shardId, id)).toBe(false);
    // The other instance's edits see this one.
    expect(await edit(shardId, id, 'other')).toBe(true);
  });

  it('a member that expired no longer counts; an entry Redis lost comes back with the refresh', async () => {
    const shardId = await store.open({ 'a.txt': '' });
    const id = await store.idOf(shardId, 'a.txt');
    const members = store.cache.members;
    const mine = members.socketMember('s1');
    await members.add(shardId, mine);
    members.addLocal(shardId, mine);
    await shortLived.add(shardId, shortLived.socketMember('u1'));
    expect(await edit(shardId, id)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await edit(shardId, id)).toBe(false);
    // Lost (a flush): this instance's own entry is missing, so nothing is known.
    await store.redis.del(store.keys(shardId).memberInstances);
    expect(await edit(shardId, id)).toBe(true);
    await members.refreshShards([shardId]);
    expect(await edit(shardId, id)).toBe(false);
    // The set expires with its latest entry.
    const ttl = await store.redis.pttl(store.keys(shardId).memberInstances);
    expect(ttl).toBeGreaterThan(0);
    members.removeLocal(shardId, mine);
  });

  it('eviction and purge take the set along', async () => {
    const shardId = await store.open({ 'a.txt': '' });
    const k = store.keys(shardId);
    await shortLived.add(shardId, shortLived.socketMember('u1'));
    expect(await store.redis.exists(k.memberInstances)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await store.redis.zadd(k.memberInstances, Date.now() + 60_000, 'stale');
    expect(await store.cache.sync.evict(shardId)).toBe('EVICTED');
    expect(await store.redis.exists(k.memberInstances)).toBe(0);
  });
});
