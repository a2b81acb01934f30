import type { ShardId } from '@tandem/protocol';
import { isBacklogRefusal } from '../shard-cache/index.js';

/**
 * Runs a write; when Redis refuses it because the shard holds too many unsynced bytes
 * (MAX_SHARD_UNSYNCED_BYTES), asks for a sync of that shard at once, then fails as it was (the
 * refusal is retryable: the writer sends it again once the sync compacted the shard).
 */
export async function syncOnBacklog<T>(
  shardId: ShardId,
  onBacklog: ((shardId: ShardId) => void) | undefined,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isBacklogRefusal(error)) onBacklog?.(shardId);
    throw error;
  }
}
