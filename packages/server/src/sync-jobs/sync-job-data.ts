import { z } from 'zod';
import { isShardId, type ShardId } from '@tandem/protocol';

/** Job data read back from Redis: untrusted until parsed. */
export const SyncJobData = z.strictObject({
  shards: z
    .array(
      z.strictObject({
        shardId: z.custom<ShardId>(isShardId, 'a shard id'),
        evict: z.boolean(),
      }),
    )
    .min(1)
    .max(10_000),
});
export type SyncJobData = z.infer<typeof SyncJobData>;

/** What a sync job returns (stored by BullMQ as the job's return value). */
export type SyncJobResult = {
  threadId: number;
  synced: number;
  written: number;
  deleted: number;
  evicted: number;
  failed: Array<{ shardId: string; code: string }>;
  durationMs: number;
};

/**
 * Name of the pub/sub channel on which whoever records a checkpoint (a sync worker thread, an API
 * instance) announces it to every API instance, which tells its sockets in the room.
 */
export function checkpointsChannel(keyPrefix: string): string {
  return `${keyPrefix}:checkpoints`;
}

/** Name of the pub/sub channel on which sync announces saved versions to every API instance. */
export function savedChannel(keyPrefix: string): string {
  return `${keyPrefix}:saved`;
}
