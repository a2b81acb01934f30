import {
  ErrorCode,
  type CheckpointDetail,
  type CheckpointDiff,
  type CheckpointPage,
  type CheckpointSummary,
  type FileEntry,
  type FileId,
  type RestoreResult,
  type ShardId,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import {
  toCheckpointSummary,
  type Checkpoint,
  type CheckpointMeta,
  type CheckpointReason,
  type IShardRepository,
} from '../persistence/index.js';
import { isBacklogRefusal, textFromUpdates, updateToText, type ShardCache } from '../shard-cache/index.js';
import type { Principal } from '../auth/index.js';
import type { Faults } from '../faults/index.js';
import { canonicalPath, sortByPath } from './canonical-path.js';
import { binaryDigest, type DiffSide } from './history-diff.js';
import type { HistoryThreads } from './history-threads.js';
import type { RawDiffSide } from './history-thread.js';
import type { ShardAccess } from './shard-access.js';
import type { ShardEvents } from './shard-events.js';
import type { ShardMembership } from './shard-membership.js';
import type { FileRead, ShardReader } from './shard-reader.js';

/** Flushes the shard to the database, then records a checkpoint of it (null: nothing changed). */
export type CheckpointNow = (
  shardId: ShardId,
  options: { reason: CheckpointReason; label?: string; force?: boolean },
) => Promise<CheckpointMeta | null>;

export type ShardHistoryDeps = {
  repository: IShardRepository;
  cache: ShardCache;
  limits: Config['limits'];
  logger: Logger;
  events: ShardEvents;
  checkpointNow: CheckpointNow;
  /** Syncs the shard now (a restore refused for the shard's unsynced backlog retries after it). */
  flush: (shardId: ShardId) => Promise<void>;
  /** Worker threads: a diff is decoded and computed there. */
  threads: HistoryThreads;
  /** Test-only: a hook between the pre-restore checkpoint and the restore's changes. */
  faults?: Faults | undefined;
};

/**
 * ShardService's file operations, which a restore goes through: each is stored, broadcast and
 * (create, rename, delete) written through to the database like any other.
 */
export type RestoreTreeOps = {
  createFile(principal: Principal, shardId: ShardId, path: string, content: string): Promise<unknown>;
  putBlob(principal: Principal, shardId: ShardId, path: string, bytes: Uint8Array): Promise<unknown>;
  renameFile(principal: Principal, shardId: ShardId, from: string, to: string): Promise<unknown>;
  deleteFile(principal: Principal, shardId: ShardId, path: string): Promise<{ files: FileEntry[] }>;
};

/** A file at a checkpoint: its text, or a binary file's bytes (`content` is then their digest). */
type CheckpointFile = DiffSide & { bytes?: Uint8Array };

/**
 * Version history of a shard: list, read and diff checkpoints (anyone who may read the shard),
 * name the current version and restore a checkpoint (writers). A restore is applied through the
 * same cache steps as edits — Yjs updates computed from the pre-restore checkpoint, tree operations — and
 * each is broadcast like an edit, so open editors update live and sync saves it like any edit.
 */
export class ShardHistory {
  constructor(
    private readonly deps: ShardHistoryDeps,
    private readonly reader: ShardReader,
    private readonly membership: ShardMembership,
    private readonly treeOps: RestoreTreeOps,
    /** Who may read or write the shard: token claims, and ownership. */
    private readonly access: ShardAccess,
  ) {}

  async list(
    principal: Principal,
    shardId: ShardId,
    page: { limit: number; before?: number | undefined },
  ): Promise<CheckpointPage> {
    await this.access.require(principal, shardId, 'read');
    await this.assertShard(shardId);
    const rows = await this.deps.repository.listCheckpoints(shardId, { limit: page.limit, beforeSeq: page.before });
    const last = rows.at(-1);
    return {
      checkpoints: rows.map(toCheckpointSummary),
      nextBefore: rows.length === page.limit && last !== undefined && last.seq > 1 ? last.seq : null,
    };
  }

  async get(principal: Principal, shardId: ShardId, seq: number): Promise<CheckpointDetail> {
    await this.access.require(principal, shardId, 'read');
    const checkpoint = await this.find(shardId, seq);
    return {
      ...toCheckpointSummary(checkpoint),
      files: sortByPath(
        checkpoint.tree.map((e): FileEntry =>
          e.kind === 'binary' ? { id: e.id, path: e.path, kind: 'binary' } : { id: e.id, path: e.path },
        ),
      ),
    };
  }

  /** Names the current version: flushes the shard and records a checkpoint with the label. */
  async name(principal: Principal, shardId: ShardId, label: string): Promise<CheckpointSummary> {
    await this.access.require(principal, shardId, 'write');
    await this.assertShard(shardId);
    const checkpoint = await this.deps.checkpointNow(shardId, { reason: 'named', label, force: true });
    if (checkpoint === null) throw new AppError(ErrorCode.INTERNAL, 'the named checkpoint was not recorded');
    this.deps.logger.info({ shardId, seq: checkpoint.seq, userId: principal.userId }, 'version named');
    return toCheckpointSummary(checkpoint);
  }

  async readFile(principal: Principal, shardId: ShardId, seq: number, rawPath: string): Promise<FileRead> {
    await this.access.require(principal, shardId, 'read');
    const path = canonicalPath(rawPath, this.deps.limits);
    const checkpoint = await this.find(shardId, seq);
    const entry = checkpoint.tree.find((e) => e.path === path);
    if (entry === undefined) {
      throw new AppError(ErrorCode.FILE_NOT_FOUND, `no file at "${path}" in checkpoint ${seq}`, {
        details: { path, checkpoint: seq },
      });
    }
    const [read] = await this.texts(checkpoint, [entry.id]);
    if (read?.bytes !== undefined) return { file: { id: entry.id, path, kind: 'binary' }, bytes: read.bytes };
    return { file: { id: entry.id, path }, content: read?.content ?? '' };
  }

  /** The changed files from checkpoint `seq` to another checkpoint or to now, optionally within a file or folder. */
  async diff(
    principal: Principal,
    shardId: ShardId,
    seq: number,
    options: { to: number | 'now'; path?: string | undefined },
  ): Promise<CheckpointDiff> {
    await this.access.require(principal, shardId, 'read');
    const scope = options.path === undefined ? null : canonicalPath(options.path, this.deps.limits);
    const from = await this.find(shardId, seq);
    const fromFiles = await this.states(
      from,
      from.tree.filter((e) => inScope(e.path, scope)).map((e) => e.id),
    );
    let toFiles: RawDiffSide[];
    if (options.to === 'now') {
      toFiles = (await this.reader.currentFiles(shardId)).filter((f) => inScope(f.path, scope));
    } else {
      const to = await this.find(shardId, options.to);
      toFiles = await this.states(
        to,
        to.tree.filter((e) => inScope(e.path, scope)).map((e) => e.id),
      );
    }
    // Decoding and line-diffing a whole shard takes long (~150 ms for 2 MB): in a worker thread.
    return { from: seq, to: options.to, files: await this.deps.threads.diff(fromFiles, toFiles) };
  }

  /**
   * Restores a file, a folder (`path`) or the whole shard to checkpoint `seq`. The state before
   * becomes a checkpoint first (flushed, so unsynced edits are in it). Then, within the scope:
   * files the checkpoint lacks are deleted, files it has at another path are moved back, and every
   * file's text is set to the checkpoint's with a Yjs update computed from its state in the
   * pre-restore checkpoint (or created when missing). Edits stored after that checkpoint merge
   * with those updates like any two concurrent edits: each edit is in that checkpoint or survives.
   */
  async restore(
    principal: Principal,
    shardId: ShardId,
    seq: number,
    rawPath: string | undefined,
  ): Promise<RestoreResult> {
    await this.access.require(principal, shardId, 'write');
    const scope = rawPath === undefined ? null : canonicalPath(rawPath, this.deps.limits);
    const checkpoint = await this.find(shardId, seq);
    const targets = checkpoint.tree.filter((e) => inScope(e.path, scope));
    if (scope !== null && targets.length === 0) {
      throw new AppError(ErrorCode.FILE_NOT_FOUND, `no file or folder at "${scope}" in checkpoint ${seq}`, {
        details: { path: scope, checkpoint: seq },
      });
    }
    const texts = await this.texts(
      checkpoint,
      targets.map((e) => e.id),
    );
    for (const file of texts) {
      if (file.bytes !== undefined) {
        if (file.bytes.byteLength > this.deps.limits.maxAssetBytes) {
          throw new AppError(
            ErrorCode.FILE_TOO_LARGE,
            `"${file.path}" in checkpoint ${seq} is larger than MAX_ASSET_BYTES (${this.deps.limits.maxAssetBytes}) allows now`,
          );
        }
      } else if (Buffer.byteLength(file.content, 'utf8') > this.deps.limits.maxFileBytes) {
        throw new AppError(
          ErrorCode.FILE_TOO_LARGE,
          `"${file.path}" in checkpoint ${seq} is larger than MAX_FILE_BYTES (${this.deps.limits.maxFileBytes}) allows now`,
        );
      }
    }
    const recorded = await this.deps.checkpointNow(shardId, { reason: 'before-restore' });
    // Nothing changed since the latest checkpoint: it is the state before the restore.
    const before =
      recorded === null
        ? await this.deps.repository.latestCheckpoint(shardId)
        : await this.deps.repository.findCheckpoint(shardId, recorded.seq);
    if (before === null) throw new AppError(ErrorCode.INTERNAL, 'the state before the restore was not recorded');
    await this.deps.faults?.inRestoreWindow();
    // The restorer changes the shard: an author of the next checkpoint, not of the one before.
    const author = { userId: principal.userId, name: principal.name };
    await this.deps.cache.authors.note(shardId, author);

    const result = await this.membership.transiently(shardId, () =>
      this.apply(principal, shardId, scope, texts, before),
    );
    const outcome: RestoreResult = { checkpoint: seq, before: before.seq, path: scope, ...result };
    this.deps.events.restored({
      shardId,
      checkpoint: seq,
      before: before.seq,
      path: scope,
      by: author,
      version: result.version,
    });
    this.deps.logger.info({ shardId, userId: principal.userId, ...outcome }, 'checkpoint restored');
    return outcome;
  }

  private async apply(
    principal: Principal,
    shardId: ShardId,
    scope: string | null,
    targets: readonly CheckpointFile[],
    before: Checkpoint,
  ): Promise<Omit<RestoreResult, 'checkpoint' | 'before' | 'path'>> {
    const files = this.deps.cache.files;
    const counts = { written: 0, created: 0, deleted: 0, renamed: 0, version: 0 };
    const current = await files.tree(shardId);
    // The restore changes the state of `before`, not the live state: what was stored after that
    // checkpoint (edits, new files) is in no checkpoint, so it must survive the restore. Every
    // change below is computed against `before`, and what came later merges with it.
    const beforeIds = new Set(before.tree.map((e) => e.id));
    const targetPaths = new Set(targets.map((t) => t.path));
    const targetKinds = new Map(targets.map((t) => [t.path, t.bytes === undefined ? 'text' : 'binary']));
    const nowById = new Map(current.map((f) => [f.id, f]));
    const nowPaths = new Set(current.map((f) => f.path));
    // A file the checkpoint has at another path moves back, when both paths are in the scope,
    // its old path is free, and its current path is not one the checkpoint fills.
    const moves: Array<{ id: FileId; from: string; to: string }> = [];
    for (const target of targets) {
      const now = nowById.get(target.id);
      if (
        now !== undefined &&
        now.path !== target.path &&
        inScope(now.path, scope) &&
        !nowPaths.has(target.path) &&
        !targetPaths.has(now.path)
      ) {
        moves.push({ id: target.id, from: now.path, to: target.path });
      }
    }
    const moving = new Set(moves.map((m) => m.id));
    // Removed: files the checkpoint lacks, and files of the other kind (text ↔ binary) at a target path.
    const removals = current.filter(
      (f) =>
        inScope(f.path, scope) &&
        !moving.has(f.id) &&
        (!targetPaths.has(f.path) || targetKinds.get(f.path) !== (f.kind === 'binary' ? 'binary' : 'text')) &&
        // A file created after the pre-restore checkpoint is in none: it stays.
        beforeIds.has(f.id),
    );

    // Tree operations go through ShardService: stored, broadcast and written through to the database.
    for (const file of removals) {
      const { files: gone } = await this.retrying(shardId, () =>
        this.treeOps.deleteFile(principal, shardId, file.path),
      );
      counts.deleted += gone.length;
    }
    for (const move of moves) {
      await this.retrying(shardId, () => this.treeOps.renameFile(principal, shardId, move.from, move.to));
      counts.renamed++;
    }
    const byPath = new Map((await files.tree(shardId)).map((f) => [f.path, f]));
    const existingIds = targets.flatMap((t) => {
      const id = byPath.get(t.path)?.id;
      return id !== undefined && beforeIds.has(id) ? [id] : [];
    });
    const beforeStates = await this.deps.repository.readCheckpointFiles(shardId, before.seq, existingIds);
    for (const target of targets) {
      const existing = byPath.get(target.path);
      const beforeState = existing === undefined ? undefined : beforeStates.get(existing.id);
      // Of the other kind, it was created after the pre-restore checkpoint (the removals above
      // took those from before): it stays.
      if (existing !== undefined && (existing.kind === 'binary') !== (target.bytes !== undefined)) continue;
      if (target.bytes !== undefined) {
        const bytes = target.bytes;
        // A binary file: its bytes put back (created, or replaced when they differ). Bytes put
        // after the pre-restore checkpoint (or a file created since) are in none: they stay.
        if (existing !== undefined) {
          const now = await files.blob(shardId, existing.id);
          if (now !== null && binaryDigest(now) === target.content) continue;
          if (now !== null && (beforeState === undefined || binaryDigest(now) !== binaryDigest(beforeState))) continue;
        }
        await this.retrying(shardId, () => this.treeOps.putBlob(principal, shardId, target.path, bytes));
        if (existing === undefined) counts.created++;
        else counts.written++;
        continue;
      }
      if (existing === undefined) {
        await this.retrying(shardId, () => this.treeOps.createFile(principal, shardId, target.path, target.content));
        counts.created++;
        continue;
      }
      // The update is computed from the file's state in the pre-restore checkpoint (a file created
      // since: from nothing), so every edit stored after it, before or while this is applied,
      // merges with it like two concurrent edits (CRDT): nobody's later typing is lost.
      const update = updateToText(beforeState === undefined ? [] : [beforeState], target.content);
      if (update === null) continue;
      const version = await this.retrying(shardId, () => files.appendUpdate(shardId, existing.id, update));
      this.deps.events.fileEdited(shardId, existing.id, update, version);
      counts.written++;
    }
    counts.version = await files.version(shardId);
    return counts;
  }

  /** Runs one cache step; refused for the shard's unsynced backlog, it syncs the shard and tries once more. */
  private async retrying<T>(shardId: ShardId, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (!isBacklogRefusal(error)) throw error;
      await this.deps.flush(shardId);
      return step();
    }
  }

  /** Each listed file at a checkpoint as stored (a text file's Yjs state, a binary file's bytes). */
  private async states(checkpoint: Checkpoint, ids: readonly FileId[]): Promise<RawDiffSide[]> {
    const states = await this.deps.repository.readCheckpointFiles(checkpoint.shardId, checkpoint.seq, ids);
    const entries = new Map(checkpoint.tree.map((e) => [e.id, e]));
    return ids.map((id): RawDiffSide => {
      const state = states.get(id);
      if (state === undefined) throw missingState(checkpoint, id);
      const entry = entries.get(id);
      const path = entry?.path ?? '';
      return entry?.kind === 'binary'
        ? { id, path, kind: 'binary', bytes: state }
        : { id, path, kind: 'updates', updates: [state] };
    });
  }

  /**
   * Each listed file at a checkpoint, in the order given: its text, or a binary file's bytes
   * (with their digest as `content`, which is what a diff compares).
   */
  private async texts(checkpoint: Checkpoint, ids: readonly FileId[]): Promise<CheckpointFile[]> {
    const states = await this.deps.repository.readCheckpointFiles(checkpoint.shardId, checkpoint.seq, ids);
    const entries = new Map(checkpoint.tree.map((e) => [e.id, e]));
    return ids.map((id): CheckpointFile => {
      const state = states.get(id);
      if (state === undefined) throw missingState(checkpoint, id);
      const entry = entries.get(id);
      const path = entry?.path ?? '';
      if (entry?.kind === 'binary') return { id, path, kind: 'binary', content: binaryDigest(state), bytes: state };
      return { id, path, content: textFromUpdates([state]) };
    });
  }

  private async find(shardId: ShardId, seq: number): Promise<Checkpoint> {
    const checkpoint = await this.deps.repository.findCheckpoint(shardId, seq);
    if (checkpoint !== null) return checkpoint;
    await this.assertShard(shardId);
    throw new AppError(
      ErrorCode.CHECKPOINT_NOT_FOUND,
      `shard ${shardId} has no checkpoint ${seq}; GET /shards/${shardId}/checkpoints lists them`,
      { details: { shardId, checkpoint: seq } },
    );
  }

  private async assertShard(shardId: ShardId): Promise<void> {
    if ((await this.deps.repository.findMetaById(shardId)) === null) {
      throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id', { details: { shardId } });
    }
  }
}

function missingState(checkpoint: Checkpoint, id: FileId): AppError {
  return new AppError(
    ErrorCode.INTERNAL,
    `checkpoint ${checkpoint.seq} of shard ${checkpoint.shardId} lists file ${id} but no state of it is stored`,
  );
}

function inScope(path: string, scope: string | null): boolean {
  return scope === null || path === scope || path.startsWith(`${scope}/`);
}
