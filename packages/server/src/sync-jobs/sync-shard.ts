import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, type CheckpointedEvent, type DependencyMap, type FileId, type ShardId } from '@tandem/protocol';
import { AppError, toAppError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import {
  CheckpointReason,
  type CheckpointMeta,
  type IShardRepository,
  type SyncBatch,
  type SyncOutcome,
  type SyncResult,
  type SyncWriteOptions,
} from '../persistence/index.js';
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
  /**
   * The latest checkpoint time this process knows per shard (a sync worker thread keeps one), so
   * that a sync does not ask the database for a checkpoint by interval that is not due yet.
   */
  checkpointTimes?: Map<ShardId, number> | undefined;
  /** Test-only (TANDEM_TEST_SYNC_CRASH): called right after a sync's batch is committed, before compaction. */
  afterCommit?: (() => void) | undefined;
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
  const [outcome] = await syncShards(deps, [{ shardId, evict: options.evict }]);
  if (outcome === undefined) throw new AppError(ErrorCode.INTERNAL, `shard ${shardId} was not synced`);
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}

export type ShardSyncOutcome = { ok: true; result: SyncShardResult } | { ok: false; error: unknown };

/**
 * syncShard for several shards, with one database transaction for all their writes (a group
 * commit: one commit instead of one per shard): every shard is snapshotted and merged first (a
 * few shards at once, so their Redis round trips overlap; a group ends at `groupBytes` of
 * updates read, and the next one starts), then the batches are written with
 * applySyncs, a savepoint each, so a shard that fails fails alone; then each shard that committed
 * is compacted, announced and evicted as syncShard does (a wave at a time again). A shard whose batch deletes files is written alone (its checkpoint goes between two
 * writes). Outcomes are in the order of `shards`; this throws only for a programming error.
 */
export async function syncShards(
  deps: SyncShardDeps,
  shards: ReadonlyArray<{ shardId: ShardId; evict: boolean }>,
  limits: { groupBytes: number } = { groupBytes: GROUP_BYTES },
): Promise<ShardSyncOutcome[]> {
  const outcomes: Array<ShardSyncOutcome | undefined> = shards.map(() => undefined);
  let next = 0;
  while (next < shards.length) {
    // A group grows by waves of shards read at once (independent keys and rows: their round trips
    // overlap) until it holds `groupBytes` of updates, so a few huge backlogs are not all in memory.
    const prepared: Array<{ index: number; shard: Prepared }> = [];
    let bytes = 0;
    while (next < shards.length && bytes < limits.groupBytes) {
      const wave = shards.slice(next, next + PREPARE_WAVE).map((shard, i) => ({ ...shard, index: next + i }));
      next += wave.length;
      await Promise.all(
        wave.map(async ({ shardId, evict, index }) => {
          try {
            const shard = await prepare(deps, shardId, evict);
            bytes += shard.snapshotBytes;
            prepared.push({ index, shard });
          } catch (error) {
            outcomes[index] = { ok: false, error };
          }
        }),
      );
    }
    prepared.sort((a, b) => a.index - b.index);
    await writeGroup(deps, prepared, outcomes);
  }
  return outcomes.map((o) => o ?? { ok: false, error: new AppError(ErrorCode.INTERNAL, 'shard not synced') });
}

/**
 * The write's check that Redis still holds each shard by the load its snapshot read (see
 * SyncWriteOptions): a batch of a lost load does not bring its files, paths and deletions into
 * rows a new load may have read already.
 */
function currentLoads(deps: SyncShardDeps, shards: readonly Prepared[]): SyncWriteOptions {
  const loads = new Map(shards.map((shard) => [shard.shardId, shard.snapshot.loadId]));
  return { current: () => deps.store.loadsHeld(loads) };
}

/** Shards of a group read at once. */
const PREPARE_WAVE = 8;

/** Updates a group holds before it is written (each shard's snapshot counts whole). */
const GROUP_BYTES = 16 * 1024 * 1024;

async function writeGroup(
  deps: SyncShardDeps,
  prepared: Array<{ index: number; shard: Prepared }>,
  outcomes: Array<ShardSyncOutcome | undefined>,
): Promise<void> {
  const grouped = prepared.filter(({ shard }) => isGroupable(shard.batch));
  const written = new Map<number, SyncOutcome>();
  // One shard alone is written by applySync, exactly as before.
  if (grouped.length > 1) {
    try {
      const results = await deps.repository.applySyncs(
        grouped.map(({ shard }) => shard.batch as SyncBatch),
        currentLoads(
          deps,
          grouped.map(({ shard }) => shard),
        ),
      );
      deps.afterCommit?.();
      for (const [i, { index }] of grouped.entries()) {
        const result = results[i];
        if (result !== undefined) written.set(index, result);
      }
    } catch (error) {
      // Nothing of the group committed (the database is unreachable): every shard in it failed.
      for (const { index } of grouped) outcomes[index] = { ok: false, error };
    }
  }
  // Finished a wave at a time, as they were read: every compaction is a script that Redis runs
  // while the edits of every shard wait behind it, and up to a hundred sent at once would hold
  // typing up for their whole burst.
  for (let start = 0; start < prepared.length; start += PREPARE_WAVE) {
    await Promise.all(
      prepared.slice(start, start + PREPARE_WAVE).map(async ({ index, shard }) => {
        if (outcomes[index] !== undefined) return;
        try {
          outcomes[index] = { ok: true, result: await finish(deps, shard, written.get(index)) };
        } catch (error) {
          outcomes[index] = { ok: false, error };
        }
      }),
    );
  }
}

/** A shard snapshotted and merged, its batch ready to write. */
type Prepared = {
  shardId: ShardId;
  evict: boolean;
  started: number;
  snapshotTimeMs: number;
  snapshot: ShardSnapshot;
  /** Bytes of the updates the snapshot read. */
  snapshotBytes: number;
  /** The stored watermark when the snapshot was read (0 when nothing was dirty). */
  storedWatermark: number;
  /** null when nothing was dirty. */
  batch: SyncBatch | null;
  compact: CompactEntry[];
  /** Deleted files' last edits, which only Redis holds: the checkpoint before the delete keeps them. */
  pendingDeleted: Array<{ id: FileId; version: number; ydocState: Uint8Array }>;
  alreadyStored: number;
};

function isGroupable(batch: SyncBatch | null): boolean {
  return batch !== null && batch.deletes.length === 0 && batch.upserts.length > 0;
}

async function prepare(deps: SyncShardDeps, shardId: ShardId, evict: boolean): Promise<Prepared> {
  const started = performance.now();
  const snapshotTimeMs = Date.now();
  const snapshot = await deps.store.snapshot(shardId);
  const prepared: Prepared = {
    shardId,
    evict,
    started,
    snapshotTimeMs,
    snapshot,
    snapshotBytes: snapshot.files.reduce((n, f) => n + f.updates.reduce((m, u) => m + u.byteLength, 0), 0),
    storedWatermark: 0,
    batch: null,
    compact: [],
    pendingDeleted: [],
    alreadyStored: 0,
  };
  if (snapshot.files.length === 0 && snapshot.ops.length === 0) return prepared;
  const meta = await deps.repository.findMetaById(shardId);
  if (meta === null) {
    throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'the shard no longer exists in the database', {
      details: { shardId },
    });
  }
  prepared.storedWatermark = meta.lastSyncTimestamp;
  const batch: SyncBatch = { shardId, lastSyncTimestamp: snapshot.version, upserts: [], deletes: [] };
  // Replies of operations whose instance died before writing their tree through: with the batch,
  // so an operation sent again after an eviction or a Redis loss still gets its first outcome.
  if (snapshot.ops.length > 0) batch.ops = snapshot.ops;
  prepared.batch = batch;
  const { compact, pendingDeleted } = prepared;
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
      prepared.alreadyStored++;
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
  return prepared;
}

/**
 * Writes the batch (unless the group wrote it: `written`), then the checkpoints, compaction, the
 * "saved" notice and the eviction.
 */
async function finish(
  deps: SyncShardDeps,
  prepared: Prepared,
  written: SyncOutcome | undefined,
): Promise<SyncShardResult> {
  const { shardId, snapshot, batch } = prepared;
  const result: SyncShardResult = {
    shardId,
    written: 0,
    deleted: 0,
    alreadyStored: prepared.alreadyStored,
    version: 0,
    evicted: null,
    checkpoints: [],
    stale: false,
    durationMs: 0,
  };
  if (batch !== null) {
    if (written === undefined && batch.deletes.length > 0) {
      // The state before the deletion, edits of this batch included, becomes a checkpoint. The
      // watermark stays: a job that dies after this point still sees the deletes as unsynced.
      if (batch.upserts.length > 0) {
        await deps.repository.applySync(
          { ...batch, deletes: [], ops: undefined, lastSyncTimestamp: prepared.storedWatermark },
          currentLoads(deps, [prepared]),
        );
      }
      // Only while the database still holds a deleted file: a delete written through already
      // (see shards/tree-write-through.ts) had its checkpoint recorded before.
      const before = await recordCheckpoint(deps, shardId, {
        reason: CheckpointReason.BEFORE_DELETE,
        pending: prepared.pendingDeleted,
        onlyIfStored: batch.deletes.map((d) => d.id),
      });
      if (before !== null) result.checkpoints.push(before.seq);
    }
    if (batch.upserts.length > 0 || batch.deletes.length > 0 || (batch.ops?.length ?? 0) > 0) {
      let applied: SyncResult;
      if (written === undefined) {
        applied = await deps.repository.applySync(batch, currentLoads(deps, [prepared]));
        deps.afterCommit?.();
      } else if (written.ok) applied = written.result;
      else throw written.error;
      result.written = applied.written;
      result.deleted = applied.deleted;
      if (applied.written + applied.deleted > 0 && !prepared.evict) {
        const due = await recordIntervalCheckpoint(deps, shardId);
        if (due !== null) result.checkpoints.push(due.seq);
      }
    }
    result.version = snapshot.version;
    const outcome = await compactAfterCommit(
      deps,
      shardId,
      { timeMs: prepared.snapshotTimeMs, loadId: snapshot.loadId, version: snapshot.version },
      prepared.compact,
    );
    if (outcome.kind === 'compacted') {
      // Only for the load that stored them (a stale batch's were not written, and the new load
      // may hold a reply of its own under the same opId, sent again). Kept in Redis when this
      // fails: the next sync or tree written through takes them along.
      await deps.store
        .opsWritten(
          shardId,
          (batch.ops ?? []).map((op) => op.opId),
        )
        .catch((error: unknown) => deps.logger.warn({ shardId, err: error }, 'could not forget operation replies'));
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

  if (prepared.evict) {
    // A checkpoint of what the last collaborator left, if it differs from the previous one. Best
    // effort: a failure here must not keep the shard in Redis.
    const left = await recordQuietly(deps, shardId, { reason: CheckpointReason.LEAVE });
    if (left !== null) result.checkpoints.push(left.seq);
    deps.checkpointTimes?.delete(shardId);
    result.evicted = await deps.store.evict(shardId);
  }
  result.durationMs = Math.round((performance.now() - prepared.started) * 10) / 10;
  deps.logger.debug({ ...result }, 'shard synced');
  return result;
}

/**
 * The checkpoint by interval (HISTORY_INTERVAL_MS) after a sync that wrote something. When this
 * thread knows the shard's latest checkpoint is younger than the interval, nothing is asked of
 * the database: createCheckpoint would take the write lock only to find it not due. A shard this
 * thread has not seen yet has its latest checkpoint's time read (a read, no write lock). A later
 * checkpoint (recorded anywhere) only makes the next one due later, so a known time is a safe
 * bound; createCheckpoint still checks the interval itself.
 */
async function recordIntervalCheckpoint(deps: SyncShardDeps, shardId: ShardId): Promise<CheckpointMeta | null> {
  const times = deps.checkpointTimes;
  let known = times?.get(shardId);
  if (times !== undefined && known === undefined) {
    try {
      const [latest] = await deps.repository.listCheckpoints(shardId, { limit: 1 });
      if (latest !== undefined) {
        known = latest.createdAt.getTime();
        rememberCheckpoint(times, shardId, known);
      }
    } catch (error) {
      deps.logger.debug({ err: error, shardId }, 'could not read the latest checkpoint');
    }
  }
  if (known !== undefined && Date.now() - known < deps.historyIntervalMs) return null;
  const recorded = await recordQuietly(deps, shardId, {
    reason: CheckpointReason.INTERVAL,
    minIntervalMs: deps.historyIntervalMs,
  });
  if (times !== undefined && recorded !== null) rememberCheckpoint(times, shardId, recorded.createdAt.getTime());
  return recorded;
}

/** Shards whose checkpoint time a thread keeps at most (one number each; the oldest entries go). */
const CHECKPOINT_TIMES_MAX = 100_000;

function rememberCheckpoint(times: Map<ShardId, number>, shardId: ShardId, at: number): void {
  times.delete(shardId);
  times.set(shardId, at);
  if (times.size > CHECKPOINT_TIMES_MAX) times.delete(times.keys().next().value as ShardId);
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
