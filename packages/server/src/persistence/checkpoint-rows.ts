import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { comparePaths, ErrorCode, type FileId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { DbTime, ShardCheckpointsTable } from './migrations.js';
import {
  CheckpointReason,
  type Checkpoint,
  type CheckpointAuthor,
  type CheckpointMeta,
  type CheckpointTreeEntry,
  type RetentionPolicy,
} from './shard-repository.js';

/**
 * Checkpoint rows ↔ domain objects, the "what changed" rule and the retention rule. Pure
 * functions; no queries.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const REASONS = new Set<string>(Object.values(CheckpointReason));

export function toCheckpointMeta(row: Omit<ShardCheckpointsTable, 'tree'>): CheckpointMeta {
  return {
    shardId: row.shard_id as ShardId,
    seq: row.seq,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
    label: row.label,
    reason: toReason(row.reason, row),
    authors: parseAuthors(row.authors),
    version: row.version,
    filesChanged: row.files_changed,
    storedBytes: row.stored_bytes,
  };
}

export function toCheckpoint(row: ShardCheckpointsTable): Checkpoint {
  return { ...toCheckpointMeta(row), tree: parseTree(row.tree, row.shard_id, row.seq) };
}

function toReason(value: string, row: { shard_id: string; seq: number }): CheckpointReason {
  if (REASONS.has(value)) return value as CheckpointReason;
  throw new AppError(
    ErrorCode.INTERNAL,
    `shard_checkpoints.reason of checkpoint ${row.seq} of shard ${row.shard_id} is "${value}"; repair the row`,
  );
}

/** The tree column: JSON, deflated (paths repeat their folders; a 200-file tree shrinks about 3×). */
export function encodeTree(tree: readonly CheckpointTreeEntry[]): Uint8Array {
  return deflateRawSync(JSON.stringify(tree));
}

export function parseTree(stored: Uint8Array, shardId: string, seq: number): CheckpointTreeEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(inflateRawSync(stored).toString('utf8'));
  } catch (error) {
    throw new AppError(
      ErrorCode.INTERNAL,
      `shard_checkpoints.tree of checkpoint ${seq} of shard ${shardId} does not decode; repair the row`,
      { cause: error },
    );
  }
  if (
    Array.isArray(value) &&
    value.every(
      (e: unknown) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as Record<string, unknown>)['id'] === 'string' &&
        typeof (e as Record<string, unknown>)['path'] === 'string' &&
        typeof (e as Record<string, unknown>)['version'] === 'number' &&
        [undefined, 'binary'].includes((e as Record<string, unknown>)['kind'] as string | undefined),
    )
  ) {
    return value as CheckpointTreeEntry[];
  }
  throw new AppError(
    ErrorCode.INTERNAL,
    `shard_checkpoints.tree of checkpoint ${seq} of shard ${shardId} is not a JSON file list; repair the row`,
  );
}

export function parseAuthors(text: string): CheckpointAuthor[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) return [];
  return value.filter(
    (a: unknown): a is CheckpointAuthor =>
      typeof a === 'object' &&
      a !== null &&
      typeof (a as Record<string, unknown>)['userId'] === 'string' &&
      typeof (a as Record<string, unknown>)['name'] === 'string',
  );
}

/** Authors of both lists, once per user id (the later name wins), sorted by user id. */
export function mergeAuthors(...lists: ReadonlyArray<readonly CheckpointAuthor[]>): CheckpointAuthor[] {
  const byId = new Map<string, CheckpointAuthor>();
  for (const list of lists) for (const a of list) byId.set(a.userId, { userId: a.userId, name: a.name });
  return [...byId.values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}

/** The tree as stored: sorted by path. */
export function toTree(
  files: ReadonlyArray<{ file_id: string; path: string; version: number; kind?: string | undefined }>,
): CheckpointTreeEntry[] {
  return files
    .map((f): CheckpointTreeEntry => ({
      id: f.file_id as FileId,
      path: f.path,
      version: f.version,
      ...(f.kind === 'binary' ? { kind: 'binary' as const } : {}),
    }))
    .sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * What a new checkpoint stores against the previous one: the files whose version differs or
 * that the previous tree lacks, and whether the tree itself (a rename or a delete) changed.
 */
export function changesSince(
  previous: readonly CheckpointTreeEntry[],
  current: readonly CheckpointTreeEntry[],
): { changed: FileId[]; treeChanged: boolean } {
  const before = new Map(previous.map((e) => [e.id, e]));
  const changed: FileId[] = [];
  let treeChanged = previous.length !== current.length;
  for (const entry of current) {
    const old = before.get(entry.id);
    if (old === undefined || old.version !== entry.version) changed.push(entry.id);
    if (old === undefined || old.path !== entry.path) treeChanged = true;
  }
  return { changed, treeChanged };
}

/**
 * The checkpoints the policy deletes (their seqs). Kept: named ones, the newest, those younger
 * than keepAllMs, and the newest of each UTC day among those younger than keepDailyMs.
 */
export function checkpointsToPrune(
  checkpoints: ReadonlyArray<{ seq: number; createdAt: Date; label: string | null }>,
  policy: RetentionPolicy,
  now: Date,
): Set<number> {
  const newest = checkpoints.reduce((max, c) => Math.max(max, c.seq), 0);
  const lastOfDay = new Map<number, number>();
  for (const c of checkpoints) {
    const day = Math.floor(c.createdAt.getTime() / DAY_MS);
    lastOfDay.set(day, Math.max(lastOfDay.get(day) ?? 0, c.seq));
  }
  const pruned = new Set<number>();
  for (const c of checkpoints) {
    const ageMs = now.getTime() - c.createdAt.getTime();
    if (c.label !== null || c.seq === newest || ageMs < policy.keepAllMs) continue;
    const day = Math.floor(c.createdAt.getTime() / DAY_MS);
    if (ageMs < policy.keepDailyMs && lastOfDay.get(day) === c.seq) continue;
    pruned.add(c.seq);
  }
  return pruned;
}

export function toDbTimeOf(dialect: 'postgres' | 'sqlite', date: Date): DbTime {
  return dialect === 'postgres' ? date : date.getTime();
}
