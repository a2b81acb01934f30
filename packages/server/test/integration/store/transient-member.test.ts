import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShardMembership } from '../../../src/shards/shard-membership.js';
import { createStore, type Store } from './store-harness.js';

const MEMBER_TTL_MS = 1000;

/**
 * A REST write holds its shard open as a member of its own (ShardMembership.transiently). Such a
 * member lives for the member TTL unless refreshed; a write that took longer (a delete's
 * checkpoint on a loaded CI machine) had its shard evicted under it and failed as "reloaded".
 */
describe('a REST write that outlives the member TTL', () => {
  let store: Store;
  let membership: ShardMembership;
  const lastLeaves: string[] = [];
  beforeAll(async () => {
    store = await createStore({ CACHE_MEMBER_TTL_MS: String(MEMBER_TTL_MS) });
    membership = new ShardMembership({
      cache: store.cache,
      events: { reloaded: () => undefined },
      onLastLeave: (shardId) => lastLeaves.push(shardId),
    });
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps its shard open until it ends, and then leaves it', async () => {
    const shardId = await store.seed({ 'a.js': 'a' });
    const outcome = await membership.transiently(shardId, async () => {
      // Longer than two member TTLs; then an eviction runs, as the scheduler's sync job would.
      await new Promise((r) => setTimeout(r, 2.5 * MEMBER_TTL_MS));
      return store.cache.sync.evict(shardId);
    });
    expect(outcome).toBe('MEMBERS');
    // Gone once the write ended (no refresh after it brings the member back), and the last
    // leave was noticed.
    expect(await store.cache.members.count(shardId)).toBe(0);
    await new Promise((r) => setTimeout(r, MEMBER_TTL_MS / 2));
    expect(await store.cache.members.count(shardId)).toBe(0);
    expect(lastLeaves).toEqual([shardId]);
    expect(await store.cache.sync.evict(shardId)).toBe('EVICTED');
  });
});
