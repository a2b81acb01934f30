import type { ShardId } from '@tandem/protocol';
import type {
  CheckpointMeta,
  CheckpointReason,
  CreateCheckpointInput,
  IShardRepository,
} from '../persistence/index.js';
import type { HistoryAuthors } from '../shard-cache/index.js';

export type RecordCheckpointDeps = {
  repository: IShardRepository;
  authors: HistoryAuthors;
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
  if (checkpoint !== null) await deps.authors.clear(shardId, notes);
  return checkpoint;
}
