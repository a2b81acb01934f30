import { z } from 'zod';
import type { FileEntry } from './dto.js';
import type { FileId, ShardId } from './ids.js';

/**
 * Version history: checkpoints of a shard, what they hold, diffs between them and the present,
 * and restores. A checkpoint's id is its `seq` (1, 2, … per shard, never reused).
 */

/** Why a checkpoint was recorded. */
export const CHECKPOINT_REASONS = ['created', 'interval', 'leave', 'named', 'before-restore', 'before-delete'] as const;
export type CheckpointReason = (typeof CHECKPOINT_REASONS)[number];

/** Someone who changed the shard between the previous checkpoint and this one. */
export type CheckpointAuthor = { userId: string; name: string };

/** One checkpoint, as `GET /shards/:id/checkpoints` lists it. */
export type CheckpointSummary = {
  /** The checkpoint's id within its shard: 1, 2, … in the order they were recorded. */
  seq: number;
  /** ISO time it was recorded. */
  createdAt: string;
  /** The name given with "Name this version", or null. Named checkpoints are never pruned. */
  label: string | null;
  reason: CheckpointReason;
  /** Who changed the shard since the previous checkpoint. */
  authors: CheckpointAuthor[];
  /** Files whose text this checkpoint stores: those changed since the previous checkpoint. */
  filesChanged: number;
  /** Bytes of Yjs state this checkpoint added to the database. */
  storedBytes: number;
  /** The shard clock the checkpoint covers (its sync watermark then). */
  version: number;
};

/** A checkpoint with its file tree (`GET /shards/:id/checkpoints/:seq`). */
export type CheckpointDetail = CheckpointSummary & { files: FileEntry[] };

/** One page of checkpoints, newest first; pass `nextBefore` as `before` for the next page (null: no more). */
export type CheckpointPage = { checkpoints: CheckpointSummary[]; nextBefore: number | null };

/** How a file differs between the two sides of a diff (matched by file id, then by path). */
export type FileChangeStatus = 'added' | 'removed' | 'renamed' | 'modified';

/** One changed file of a diff. Unchanged files are not listed. */
export type FileDiff = {
  status: FileChangeStatus;
  /** Path on the newer side (`to`); for a removed file, its path on the older side. */
  path: string;
  /** Path on the older side (`from`) when it differs (renamed), else null. */
  oldPath: string | null;
  /** The file's id on the newer side (older side for a removed file). */
  fileId: FileId;
  /** Lines added and removed. */
  additions: number;
  deletions: number;
  /**
   * Unified diff (`--- a/<old>` / `+++ b/<new>`, 3 lines of context); "" when only the path
   * changed; null when the texts were too different to diff within the time budget (compare the
   * texts instead).
   */
  patch: string | null;
  /**
   * A binary file (an image, a font) on either side: never diffed by line; `patch` is git's
   * marker `Binary files a/<old> and b/<new> differ` ("" when only the path changed), and
   * additions/deletions are 0. Its bytes: `GET …/checkpoints/:seq/files/<path>`.
   */
  binary?: true;
};

/** `GET /shards/:id/checkpoints/:seq/diff`: from the checkpoint (older side) to `to`. */
export type CheckpointDiff = {
  from: number;
  /** Another checkpoint's seq, or "now" (the live state, unsynced edits included). */
  to: number | 'now';
  files: FileDiff[];
};

/** What a restore did. */
export type RestoreResult = {
  /** The checkpoint restored. */
  checkpoint: number;
  /** The checkpoint that holds the state just before the restore (restore it to undo). */
  before: number;
  /** The file or folder restored, or null for the whole shard. */
  path: string | null;
  /** Files whose text was rewritten, created, deleted, and moved back. */
  written: number;
  created: number;
  deleted: number;
  renamed: number;
  /** The shard clock after the restore's last operation. */
  version: number;
};

/** The room notice `shard:restored`: someone restored (part of) the shard to a checkpoint. */
export type RestoredEvent = {
  shardId: ShardId;
  checkpoint: number;
  before: number;
  path: string | null;
  /** Who restored. */
  by: CheckpointAuthor;
  version: number;
};

/**
 * The room notice `shard:checkpointed`: a checkpoint of the shard was recorded (named, or
 * automatically: by interval, on the last leave, before a delete or a restore).
 */
export type CheckpointedEvent = {
  shardId: ShardId;
  checkpoint: CheckpointSummary;
};

const seq = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** `POST /shards/:id/checkpoints` body: name the current version. */
export const CreateCheckpointBody = z.strictObject({ label: z.string().trim().min(1).max(200) });
export type CreateCheckpointBody = z.infer<typeof CreateCheckpointBody>;

/** `POST /shards/:id/checkpoints/:seq/restore` body: a file or folder path, or nothing for the whole shard. */
export const RestoreCheckpointBody = z.strictObject({ path: z.string().min(1).optional() });
export type RestoreCheckpointBody = z.infer<typeof RestoreCheckpointBody>;

/** `GET /shards/:id/checkpoints` query: page size (1–100, default 50) and the seq to list below. */
export const ListCheckpointsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: seq.optional(),
});
export type ListCheckpointsQuery = z.infer<typeof ListCheckpointsQuery>;

/** `GET /shards/:id/checkpoints/:seq/diff` query: the other side (default now), optionally one file or folder. */
export const CheckpointDiffQuery = z.strictObject({
  to: z.union([z.literal('now'), seq]).default('now'),
  path: z.string().min(1).optional(),
});
export type CheckpointDiffQuery = z.infer<typeof CheckpointDiffQuery>;

/** A checkpoint seq in a URL. */
export const CheckpointSeq = seq;
