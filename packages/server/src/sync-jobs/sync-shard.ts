import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, type CheckpointedEvent, type DependencyMap, type FileId, type ShardId } from '@tandem/protocol';
import { AppError, toAppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { CheckpointReason, type CheckpointMeta, type IShardRepository, type SyncBatch } from '../persistence/index.js';
import { recordCheckpoint, type RecordCheckpointOptions } from './record-checkpoint.js';
import {
  mergeToState,
  type HistoryAuthors,
  type CompactEntry,
  type CompactOutcome,
  type EvictOutcome,
  type ShardSnapshot,
  type SyncStore,
} from '../shard-cache/index.js';

export type SyncShardDeps = {
  store: SyncStore;
  repository: IShardRepository;
  logger: Logger;
  /** Tells collaborators which versions are now in the database. */
  publishSaved: (event: SavedEvent) => Promise<void>;
  /** Tells collaborators that a checkpoint was recorded (see checkpointsChannel). */
  publishCheckpoint: (event: CheckpointedEvent) => Promise<void>;
  /** Who changed each shard since its last checkpoint. */
  authors: HistoryAuthors;
  /** A changed shard gets a checkpoint when its last one is at least this old (HISTORY_INTERVAL_MS). */
  historyIntervalMs: number;
  /**
   * Merges each text file's updates into its state and text (mergeToState), in order. The API
   * process, which flushes a shard on a request's path (a named version, a restore), passes its
   * worker threads; a sync worker thread leaves it out and merges in place.
   */
  merge?: ((files: Uint8Array[][]) => Promise<Array<{ state: Uint8Array; text: string }>>) | undefined;
  /** Reads the dependency maps out of package.json text (null when it does not parse). */
  dependenciesOf: (packageJson: string) => { dependencies: DependencyMap; devDependencies: DependencyMap } | null;
};

export type SavedEvent = { shardId: ShardId; version: number; files: Array<{ id: FileId; version: number }> };

export type SyncShardResult = {
  shardId: ShardId;
  /** Files whose rows this sync wrote or deleted. */
  written: number;
  deleted: number;
  /** Dirty files already in the database (a previous sync committed but did not compact). */
  alreadyStored: number;
  /** The watermark the database now holds (0 when nothing was dirty). */
  version: number;
  evicted: EvictOutcome | null;
  /** Seqs of the checkpoints this sync recorded (before a delete, by interval, on the last leave). */
  checkpoints: number[];
  /** The shard was no longer the load the snapshot read when the sync committed (see shard-cache/lua/compact.lua). */
  stale: boolean;
  durationMs: number;
};

/**
 * Flushes one shard from Redis to the database (the job logic; idempotent):
 * 1. atomic snapshot of the shard clock S and every dirty file's updates;
 * 2. the database's last_sync_timestamp L; files changed after L are merged (Y.mergeUpdates via
 *    a Y.Doc round trip) and written with S, in one transaction — only those files;
 * 3. only after the commit, Redis is compacted and dirty marks not newer than what was written
 *    are cleared, so an edit that lands during the sync stays dirty for the next one;
 * 4. optionally the shard is evicted, which Redis refuses atomically if anyone joined or anything
 *    changed meanwhile.
 * History: a batch that deletes files first writes its other changes (watermark unchanged) and
 * records a checkpoint, so the deleted files stay restorable; after the commit a checkpoint is
 * recorded when the previous one is older than HISTORY_INTERVAL_MS, and before an eviction (the
 * last leave) whenever anything changed since the previous one.
 * A job that dies anywhere re-runs safely: writes are keyed by file and version.
 */
export async function syncShard(
  deps: SyncShardDeps,
  shardId: ShardId,
  options: { evict: boolean },
): Promise<SyncShardResult> {
  const started = performance.now();
  const snapshotTimeMs = Date.now();
  const snapshot = await deps.store.snapshot(shardId);
  const result: SyncShardResult = {
    shardId,
    written: 0,
    deleted: 0,
    alreadyStored: 0,
    version: 0,
    evicted: null,
    checkpoints: [],
    stale: false,
    durationMs: 0,
  };

  if (snapshot.files.length > 0) {
    const meta = await deps.repository.findMetaById(shardId);
    if (meta === null) {
      throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'the shard no longer exists in the database', {
        details: { shardId },
      });
    }
    const batch: SyncBatch = { shardId, lastSyncTimestamp: snapshot.version, upserts: [], deletes: [] };
    const compact: CompactEntry[] = [];
    // Deleted files' last edits, which only Redis holds: the checkpoint before the delete keeps them.
    const pendingDeleted: Array<{ id: FileId; version: number; ydocState: Uint8Array }> = [];
    // Every text file that is written, or deleted with edits the database lacks, merged in one go.
    const toMerge = snapshot.files.filter(
      (f) => f.kind !== 'binary' && (f.path !== null || (f.updates.length > 1 && f.version > meta.lastSyncTimestamp)),
    );
    const mergedList = await (deps.merge ?? mergeInPlace)(toMerge.map((f) => f.updates));
    const mergedById = new Map(toMerge.map((f, i) => [f.id, mergedList[i]]));
    const mergedOf = (id: FileId): { state: Uint8Array; text: string } => {
      const merged = mergedById.get(id);
      if (merged === undefined) throw new AppError(ErrorCode.INTERNAL, `file ${id} was not merged`);
      return merged;
    };
    for (const file of snapshot.files) {
      // A binary file is not merged: its bytes are the last entry of its list, written as they are.
      const bytes = file.kind === 'binary' ? file.updates.at(-1) : undefined;
      // (A binary file always has its one entry; without it there is nothing to write, not a deletion.)
      if (file.path !== null && file.kind === 'binary' && bytes === undefined) continue;
      const merged = file.path === null ? null : bytes !== undefined ? { state: bytes, text: '' } : mergedOf(file.id);
      if (file.path === null && file.updates.length > 1 && file.version > meta.lastSyncTimestamp) {
        // A binary file's bytes are its last entry; a text file's state is its merged updates.
        const last = file.kind === 'binary' ? file.updates.at(-1) : undefined;
        const ydocState = file.kind === 'binary' ? last : mergedOf(file.id).state;
        if (ydocState !== undefined) pendingDeleted.push({ id: file.id, version: file.version, ydocState });
      }
      compact.push({
        id: file.id,
        version: file.version,
        gen: file.gen,
        count: file.updates.length,
        state: merged?.state ?? new Uint8Array(0),
      });
      if (file.version <= meta.lastSyncTimestamp) {
        result.alreadyStored++;
        continue;
      }
      if (file.path === null || merged === null) {
        batch.deletes.push({ id: file.id, version: file.version });
        continue;
      }
      batch.upserts.push({
        id: file.id,
        path: file.path,
        content: merged.text,
        ydocState: merged.state,
        ...(file.kind === 'binary' ? { kind: 'binary' as const } : {}),
        version: file.version,
      });
      if (file.path === 'package.json' && file.kind !== 'binary') {
        const dependencies = deps.dependenciesOf(merged.text);
        if (dependencies !== null) batch.dependencies = dependencies;
      }
    }
    if (batch.deletes.length > 0) {
      // The state before the deletion, edits of this batch included, becomes a checkpoint. The
      // watermark stays: a job that dies after this point still sees the deletes as unsynced.
      if (batch.upserts.length > 0) {
        await deps.repository.applySync({ ...batch, deletes: [], lastSyncTimestamp: meta.lastSyncTimestamp });
      }
      // Only while the database still holds a deleted file: a delete written through already
      // (see shards/tree-write-through.ts) had its checkpoint recorded before.
      const before = await recordCheckpoint(deps, shardId, {
        reason: CheckpointReason.BEFORE_DELETE,
        pending: pendingDeleted,
        onlyIfStored: batch.deletes.map((d) => d.id),
      });
      if (before !== null) result.checkpoints.push(before.seq);
    }
    if (batch.upserts.length > 0 || batch.deletes.length > 0) {
      const written = await deps.repository.applySync(batch);
      result.written = written.written;
      result.deleted = written.deleted;
      if (written.written + written.deleted > 0 && !options.evict) {
        const due = await recordQuietly(deps, shardId, {
          reason: CheckpointReason.INTERVAL,
          minIntervalMs: deps.historyIntervalMs,
        });
        if (due !== null) result.checkpoints.push(due.seq);
      }
    }
    result.version = snapshot.version;
    const outcome = await compactAfterCommit(
      deps,
      shardId,
      { timeMs: snapshotTimeMs, loadId: snapshot.loadId, version: snapshot.version },
      compact,
    );
    if (outcome.kind === 'compacted') {
      await deps.store.setSynced(shardId, snapshot.version, batch.dependencies);
      await deps.publishSaved({
        shardId,
        version: snapshot.version,
        files: snapshot.files.map((f) => ({ id: f.id, version: f.version })),
      });
    } else {
      // Redis lost the shard while this sync ran (and may have loaded it again): the versions
      // there are not the ones we just wrote, so no "saved" notice; compact.lua left every change
      // dirty above the committed watermark for the next sync.
      result.stale = true;
      deps.logger.warn(
        { shardId, version: snapshot.version },
        'shard left or was reloaded into the cache during its sync; its changes stay dirty for the next sync',
      );
    }
  }

  if (options.evict) {
    // A checkpoint of what the last collaborator left, if it differs from the previous one. Best
    // effort: a failure here must not keep the shard in Redis.
    const left = await recordQuietly(deps, shardId, { reason: CheckpointReason.LEAVE });
    if (left !== null) result.checkpoints.push(left.seq);
    result.evicted = await deps.store.evict(shardId);
  }
  result.durationMs = Math.round((performance.now() - started) * 10) / 10;
  deps.logger.debug({ ...result }, 'shard synced');
  return result;
}

function mergeInPlace(files: Uint8Array[][]): Promise<Array<{ state: Uint8Array; text: string }>> {
  return Promise.resolve(files.map((updates) => mergeToState(updates)));
}

/** A checkpoint that may fail without failing the sync (logged; the next one covers it). */
async function recordQuietly(
  deps: SyncShardDeps,
  shardId: ShardId,
  options: RecordCheckpointOptions,
): Promise<CheckpointMeta | null> {
  try {
    return await recordCheckpoint(deps, shardId, options);
  } catch (error) {
    if (toAppError(error).code === ErrorCode.SHARD_NOT_FOUND) return null;
    deps.logger.warn({ err: error, shardId, reason: options.reason }, 'could not record a checkpoint');
    return null;
  }
}

/**
 * Compaction after the commit. While a load of the shard is running it may have read the
 * database before our commit, so we wait for it to finish (bounded: a load holds its lock for at
 * most CACHE_LOCK_TTL_MS) and then compact against what it loaded.
 */
async function compactAfterCommit(
  deps: SyncShardDeps,
  shardId: ShardId,
  snapshot: Pick<ShardSnapshot, 'loadId' | 'version'> & { timeMs: number },
  entries: CompactEntry[],
): Promise<CompactOutcome> {
  const deadline = Date.now() + LOAD_WAIT_MS;
  let waitMs = 10;
  for (;;) {
    const outcome = await deps.store.compact(shardId, snapshot, entries);
    if (outcome.kind !== 'loading') return outcome;
    if (Date.now() > deadline) {
      deps.logger.warn(
        { shardId },
        'a load of the shard did not finish while its sync waited to compact; leaving it dirty',
      );
      return { kind: 'stale' };
    }
    await sleep(waitMs);
    waitMs = Math.min(waitMs * 2, 200);
  }
}

/** Longest a sync waits for a concurrent load of its shard before compacting (the default lock TTL is 15 s). */
const LOAD_WAIT_MS = 30_000;
