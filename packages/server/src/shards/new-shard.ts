import type { Principal } from '../auth/index.js';
import type { IShardRepository, Shard } from '../persistence/index.js';
import type { ShardAccess } from './shard-access.js';

/**
 * Stores a shard just made (from a template, an import or a fork) as the principal's: its row and
 * files, then its first checkpoint (its history starts with this state; a fork does not copy the
 * source's checkpoints), then the principal as its owner for access checks.
 */
export async function storeNewShard(
  deps: { repository: Pick<IShardRepository, 'save' | 'createCheckpoint'>; access: Pick<ShardAccess, 'noteOwner'> },
  shard: Shard,
  principal: Principal,
): Promise<void> {
  await deps.repository.save(shard);
  await deps.repository.createCheckpoint({
    shardId: shard.id,
    reason: 'created',
    authors: [{ userId: principal.userId, name: principal.name }],
  });
  deps.access.noteOwner(principal, shard.id);
}
