import type { CheckpointedEvent, ShardId } from '@tandem/protocol';
import {
  toCheckpointSummary,
  type CheckpointMeta,
  type CheckpointReason,
  type CreateCheckpointInput,
  type IShardRepository,
} from '../persistence/index.js';
import type { Logger } from '../logging/index.js';
import type { HistoryAuthors } from '../shard-cache/index.js';

export type RecordCheckpointDeps = {
  repository: IShardRepository;
  authors: HistoryAuthors;
  logger: Logger;
  /** Tells the shard's room, on every instance, that a checkpoint was recorded (see checkpointsChannel). */
  publishCheckpoint: (event: CheckpointedEvent) => Promise<void>;
};

export type RecordCheckpointOptions = {
  reason: CheckpointReason;
  label?: string | undefined;
  /** Record even when nothing changed since the previous checkpoint. */
  force?: boolean | undefined;
  /** Record only when the previous checkpoint is at least this old. */
  minIntervalMs?: number | undefined;
  /** Newer states of files the database is about to delete (see CreateCheckpointInput.pending). */
  pending?: CreateCheckpointInput['pending'];
  /** Record only when the database holds one of these files (see CreateCheckpointInput.onlyIfStored). */
  onlyIfStored?: CreateCheckpointInput['onlyIfStored'];
};

/**
 * Records a checkpoint of what the database holds for the shard (the caller flushed it first),
 * with the authors noted since the last checkpoint; clears those notes once it is stored.
 * Returns null when nothing was recorded (nothing changed, or the last checkpoint is too recent).
 */
export async function recordCheckpoint(
  deps: RecordCheckpointDeps,
  shardId: ShardId,
  options: RecordCheckpointOptions,
): Promise<CheckpointMeta | null> {
  const notes = await deps.authors.read(shardId);
  const checkpoint = await deps.repository.createCheckpoint({
    shardId,
    reason: options.reason,
    label: options.label,
    force: options.force,
    minIntervalMs: options.minIntervalMs,
    pending: options.pending,
    onlyIfStored: options.onlyIfStored,
    authors: notes.authors,
  });
  // Cleared after the commit: a crash in between lists the same authors again next time, never fewer.
  if (checkpoint === null) return null;
  await deps.authors.clear(shardId, notes);
  await announceCheckpoint(deps, shardId, checkpoint);
  return checkpoint;
}

/**
 * Publishes `shard:checkpointed` for a recorded checkpoint. A notice: when it cannot be sent, the
 * checkpoint stays recorded and is listed on the next read of the history (logged, not thrown).
 */
export async function announceCheckpoint(
  deps: Pick<RecordCheckpointDeps, 'logger' | 'publishCheckpoint'>,
  shardId: ShardId,
  checkpoint: CheckpointMeta,
): Promise<void> {
  try {
    await deps.publishCheckpoint({ shardId, checkpoint: toCheckpointSummary(checkpoint) });
  } catch (error) {
    deps.logger.warn({ err: error, shardId, seq: checkpoint.seq }, 'could not announce a checkpoint');
  }
}
