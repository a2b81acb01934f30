import type {
  CheckpointAuthor,
  CheckpointReason as WireCheckpointReason,
  CheckpointSummary,
  DependencyMap,
  FileId,
  ShardId,
  ShardMetaOf,
  ShardSummary,
} from '@tandem/protocol';
import type { AppError } from '../errors/index.js';

/** One file as the database stores it. */
export type StoredFile = {
  id: FileId;
  /** Canonical relative POSIX path, unique within the shard. */
  path: string;
  /** Plain text of the file (what REST, zip download and search read); '' for a binary file. */
  content: string;
  /**
   * Text file: the full Yjs document state (Y.encodeStateAsUpdate) whose Y.Text "content" equals
   * `content`. Binary file: the file's bytes.
   */
  ydocState: Uint8Array;
  /** `binary` for a binary file (an image, a font: bytes kept as a blob); absent for a text file. */
  kind?: 'binary';
  /** Shard clock value of the last change written for this file. */
  version: number;
  updatedAt: Date;
};

/** A shard's row without its files (the shared shard model with `Date` times). */
export type ShardMeta = ShardMetaOf<Date>;

/** The API's view of a shard's row: the same fields (and no others: a `Shard`'s files stay out), times as ISO strings. */
export function toShardSummary(meta: ShardMeta): ShardSummary {
  return {
    id: meta.id,
    name: meta.name,
    ownerId: meta.ownerId,
    templateId: meta.templateId,
    templateRevision: meta.templateRevision,
    dependencies: meta.dependencies,
    devDependencies: meta.devDependencies,
    createdAt: meta.createdAt.toISOString(),
    updatedAt: meta.updatedAt.toISOString(),
    lastSyncTimestamp: meta.lastSyncTimestamp,
  };
}

/**
 * A shard with all of its files. `treeVersion` (read back by findById; ignored by save): the
 * shard clock value of the newest tree written through (see writeTree). A load starts the clock
 * above it, so the versions of a later load are newer than every tree the database holds.
 */
export type Shard = ShardMeta & { files: StoredFile[]; treeVersion?: number };

/**
 * What one sync writes for one shard, in one transaction. Upserts are applied before deletes;
 * several upserts of one file id collapse to the one with the highest version (the later on
 * ties), which is what applying them one by one would leave. Versions and the watermark are
 * non-negative safe integers (VALIDATION_FAILED otherwise).
 */
export type SyncBatch = {
  shardId: ShardId;
  /** The new watermark. The stored one only moves forward: max(stored, this). */
  lastSyncTimestamp: number;
  /**
   * Changed or created files. A row is written only if its stored version is not newer. At an
   * equal version it is written only when path, content or state differ: a replayed batch
   * leaves every row, updated_at included, untouched.
   */
  upserts: Array<Omit<StoredFile, 'updatedAt'>>;
  /** Deleted files. A row is deleted only if its stored version is not newer than the deletion. */
  deletes: Array<{ id: FileId; version: number }>;
  /** New dependency maps (from an edited package.json), if they changed. */
  dependencies?: { dependencies: DependencyMap; devDependencies: DependencyMap };
  /**
   * Replies of file operations whose tree was never written through (TreeWrite.ops): stored like
   * writeTree's (the first reply of an opId is kept), and `tree_version` rises to the watermark,
   * since after the batch the database holds the tree as of it, so a load looks for replies.
   */
  ops?: ReadonlyArray<OpReply> | undefined;
};

/**
 * A shard's whole file tree as the live state held it at `version`, written through to the
 * database before a file operation (create, rename, move, delete) is acknowledged, so that no
 * acknowledged file operation depends on Redis keeping it until the next sync.
 */
export type TreeWrite = {
  shardId: ShardId;
  /** The shard clock value the tree was read at: every file operation up to it is in `files`. */
  version: number;
  /** Every file of the shard and its path; binary files (see StoredFile.kind) say so. */
  files: Array<{ id: FileId; path: string; kind?: 'binary' | undefined }>;
  /**
   * The replies of idempotent file operations (by their client-chosen opId) in `files` that the
   * database may not hold yet. Stored with the tree, kept OP_REPLY_TTL_MS, so that after Redis
   * lost the shard an operation sent again is still answered with its first outcome
   * (recentOpReplies).
   */
  ops?: ReadonlyArray<OpReply> | undefined;
};

/** The reply a file operation got, as JSON, under the id its client chose. */
export type OpReply = { opId: string; reply: string };

/** How long the database keeps an operation's reply: as long as Redis does (lua/includes/ops.lua). */
export const OP_REPLY_TTL_MS = 24 * 60 * 60 * 1000;

/** Most operation replies a load takes back into Redis (the newest). */
export const OP_REPLIES_LOADED_MAX = 1000;

/**
 * `current`: asked inside the transaction, once the shard's row is locked and before anything is
 * written, whether the load the tree was read from still holds the shard in Redis. When it says
 * no, nothing is written and the result is `stale`: Redis lost that load, and a new load that read
 * the database earlier lacks this tree. A load reads the database only after every writer that
 * passed the check has committed (findForLoad waits for the row), so a tree written is in every
 * later load.
 */
export type TreeWriteOptions = { current?: (() => Promise<boolean>) | undefined };

/**
 * `current`: asked once inside the transaction, with the shards' rows locked and before anything
 * is written, which of these shards are still held in Redis by the load their batch was read from.
 * The batch of a shard not in the answer is stale: Redis lost that load, and a new load may have
 * read the rows before this commit, so the batch's files, paths and deletions are not the new
 * load's. It writes only the text of stored files (as a batch behind the stored tree), and not its
 * replies, tree_version or watermark; the sync's compaction then finds the shard reloaded and
 * hands its edits to the new load (lua/compact.lua). A load waits for the rows (findForLoad).
 */
export type SyncWriteOptions = {
  current?: ((shardIds: readonly ShardId[]) => Promise<ReadonlySet<ShardId>>) | undefined;
};

/**
 * What writeTree changed. `applied` is false when the database already held a tree at least as
 * new (a write from another instance, or a sync, got there first): nothing was written.
 */
export type TreeWriteResult = {
  applied: boolean;
  inserted: number;
  moved: number;
  deleted: number;
  /** TreeWriteOptions.current said no: nothing was written. */
  stale?: true;
};

/**
 * Rows a sync actually changed. `skipped` counts the batch entries (upserts and deletes) that
 * changed no row: stale ones (the stored version is newer), equal-version rewrites of
 * identical data, deletes of files that do not exist, and collapsed duplicate upserts. So
 * written + deleted + skipped = upserts.length + deletes.length, and replaying a batch
 * reports everything as skipped.
 */
export type SyncResult = { written: number; deleted: number; skipped: number };

/** What became of one batch of a group (applySyncs). */
export type SyncOutcome = { ok: true; result: SyncResult } | { ok: false; error: AppError };

/** Why a checkpoint was recorded. */
export const CheckpointReason = {
  /** The shard was created (its template state). */
  CREATED: 'created',
  /** The shard changed and the previous checkpoint was older than HISTORY_INTERVAL_MS. */
  INTERVAL: 'interval',
  /** The last collaborator left (the flush before eviction). */
  LEAVE: 'leave',
  /** Someone named this version (POST /shards/:id/checkpoints). */
  NAMED: 'named',
  /** The state just before a restore. */
  BEFORE_RESTORE: 'before-restore',
  /** The state just before files were deleted. */
  BEFORE_DELETE: 'before-delete',
} as const satisfies Record<string, WireCheckpointReason>;
export type CheckpointReason = WireCheckpointReason;
export type { CheckpointAuthor };

/**
 * One file of a checkpoint's tree: its id, its path then, and its version (shard clock of its
 * last change). A binary file says so (`kind: 'binary'`): its stored state is its bytes, not a
 * Yjs document.
 */
export type CheckpointTreeEntry = { id: FileId; path: string; version: number; kind?: 'binary' };

/** A checkpoint without its tree. `seq` (1, 2, … per shard) is its id. */
export type CheckpointMeta = {
  shardId: ShardId;
  seq: number;
  createdAt: Date;
  label: string | null;
  reason: CheckpointReason;
  authors: CheckpointAuthor[];
  /** The shard watermark the checkpoint was read at. */
  version: number;
  /** Files whose state this checkpoint stores: those changed since the previous checkpoint. */
  filesChanged: number;
  /** Bytes of Yjs state stored for this checkpoint (its tree is not counted). */
  storedBytes: number;
};

/** The API's view of a checkpoint (`GET /shards/:id/checkpoints`, `shard:checkpointed`). */
export function toCheckpointSummary(meta: CheckpointMeta): CheckpointSummary {
  return {
    seq: meta.seq,
    createdAt: meta.createdAt.toISOString(),
    label: meta.label,
    reason: meta.reason,
    authors: meta.authors,
    filesChanged: meta.filesChanged,
    storedBytes: meta.storedBytes,
    version: meta.version,
  };
}

/** A checkpoint with its file tree (sorted by path). */
export type Checkpoint = CheckpointMeta & { tree: CheckpointTreeEntry[] };

/** What to record. */
export type CreateCheckpointInput = {
  shardId: ShardId;
  reason: CheckpointReason;
  label?: string | undefined;
  authors: readonly CheckpointAuthor[];
  /**
   * Record even when nothing changed since the previous checkpoint (a named version). Without
   * it, an unchanged shard records nothing and the call returns null.
   */
  force?: boolean | undefined;
  /** Record only if the previous checkpoint is at least this old (ms); otherwise return null. */
  minIntervalMs?: number | undefined;
  /**
   * Newer states of files the database still holds but is about to lose (a sync that deletes
   * them has their last edits only in Redis): each is recorded in place of the stored state, with
   * this version, when the file is in the database's tree.
   */
  pending?: ReadonlyArray<{ id: FileId; version: number; ydocState: Uint8Array }> | undefined;
  /**
   * Record only when the database's tree holds at least one of these files (the files a sync is
   * about to delete); otherwise return null.
   */
  onlyIfStored?: readonly FileId[] | undefined;
};

/**
 * How long checkpoints are kept. Named checkpoints and each shard's newest one are kept forever.
 * Younger than keepAllMs: all kept. Younger than keepDailyMs: the newest of each UTC day kept.
 * Older: deleted.
 */
export type RetentionPolicy = { keepAllMs: number; keepDailyMs: number };

/** What one pruning pass did. */
export type PruneResult = { shards: number; deleted: number; movedFiles: number };

/**
 * Which shards a listing includes: every shard (admins, and tokens whose `shards` claim has `*`),
 * or those a user owns plus the ones named in their token.
 */
export type ShardListFilter = { kind: 'all' } | { kind: 'visible'; ownerId: string; shardIds: readonly ShardId[] };

/** Where a page of a listing starts: after this shard in the order (updatedAt desc, id desc). */
export type ShardListCursor = { updatedAt: Date; id: ShardId };

/**
 * The only door to the database. Implementations: PostgresShardRepository and
 * SqliteShardRepository; both pass test/contract/shard-repository.contract.ts.
 */
export interface IShardRepository {
  /** Creates or upgrades the schema. Safe to call on every start and from several processes. */
  migrate(): Promise<void>;
  /** The shard with all files (sorted by path, in code-unit order), read from one snapshot; or null. */
  findById(id: ShardId): Promise<Shard | null>;
  /**
   * What a load into Redis reads, from one snapshot: the shard with all files (as findById) and
   * its operation replies (as recentOpReplies; not read when treeVersion is 0). One snapshot,
   * because a tree written between two reads would bring a reply whose operation the files
   * lack: a create answered "created" again to a client while the loaded tree has no such file.
   * It waits for the writers of the shard holding its row (a tree write that passed its
   * TreeWriteOptions.current check commits before the load reads).
   */
  findForLoad(id: ShardId): Promise<{ shard: Shard; opReplies: OpReply[] } | null>;
  /** The shard's row without files, or null. */
  findMetaById(id: ShardId): Promise<ShardMeta | null>;
  /**
   * Writes a whole shard in one transaction: creates it, or replaces its row (every column,
   * timestamps and watermark included, exactly as given) and its full file set (files not in
   * `shard.files` are deleted). Throws VALIDATION_FAILED when a file id or path appears twice.
   */
  save(shard: Shard): Promise<void>;
  /**
   * Writes a sync batch and the new watermark in one transaction, all or nothing. A batch whose
   * watermark is below the stored tree_version (a tree written through since its snapshot) writes
   * only the text of stored files: the stored paths and set of files are newer than its own.
   * Idempotent:
   * running the same batch twice, or an older batch after a newer one, changes nothing
   * further. The shard row (watermark, dependencies, updated_at = now) is written only when
   * the batch changed something. Throws AppError SHARD_NOT_FOUND when the shard does not
   * exist (checked inside the transaction). See SyncWriteOptions for `options.current`.
   */
  applySync(batch: SyncBatch, options?: SyncWriteOptions): Promise<SyncResult>;
  /**
   * Writes several sync batches (of different shards) in one transaction, one commit for all (a
   * group commit), each batch in its own savepoint: a batch that fails (SHARD_NOT_FOUND, an
   * invalid batch, a constraint) is undone alone and reported in its outcome, the others commit,
   * each with its own watermark, exactly as applySync would write it. Outcomes are in the order of
   * `batches`. Throws (nothing committed) when the transaction itself fails, e.g. the database is
   * unreachable. `options.current` is asked once for the whole group (SyncWriteOptions).
   */
  applySyncs(batches: readonly SyncBatch[], options?: SyncWriteOptions): Promise<SyncOutcome[]>;
  /**
   * Writes a shard's file tree, in one transaction, unless the stored tree_version or watermark
   * is at least `write.version` (the rows hold a tree that new already): files not stored yet are inserted empty (version 0: their text comes with the
   * next sync, or from clients after a reload), stored ones take their path, and stored files the
   * tree lacks are deleted; tree_version becomes `write.version`. `write.ops` are stored in any
   * case (a newer stored tree holds them too; tree_version then rises to `write.version` if
   * below, so a shard with replies always has a tree_version above 0). A sync batch older than the
   * stored tree then writes only the text of files that still exist (see applySync). Throws
   * SHARD_NOT_FOUND when the shard does not exist. With `options.current`, nothing at all is
   * written when it says the tree's load is gone (see TreeWriteOptions).
   */
  writeTree(write: TreeWrite, options?: TreeWriteOptions): Promise<TreeWriteResult>;
  /**
   * The operation replies stored with trees (TreeWrite.ops) in the last OP_REPLY_TTL_MS, newest
   * first, at most OP_REPLIES_LOADED_MAX: what a load puts back into Redis. None when the shard's
   * treeVersion is 0 (a load need not ask).
   */
  recentOpReplies(shardId: ShardId): Promise<OpReply[]>;
  /** Deletes every shard's operation replies older than OP_REPLY_TTL_MS; returns how many. */
  pruneOpReplies(now?: Date): Promise<number>;
  /**
   * Records a checkpoint of the shard as the database holds it now, in one transaction: the
   * whole tree, the Yjs state of only the files whose version differs from the previous
   * checkpoint (or that it lacks), and the authors. Returns null when nothing changed (unless
   * `force`) or when the previous checkpoint is younger than `minIntervalMs`. Throws
   * SHARD_NOT_FOUND when the shard does not exist.
   */
  createCheckpoint(input: CreateCheckpointInput): Promise<CheckpointMeta | null>;
  /** Checkpoints newest first, at most `limit`, only those with seq below `beforeSeq` when given. */
  listCheckpoints(
    shardId: ShardId,
    options: { limit: number; beforeSeq?: number | undefined },
  ): Promise<CheckpointMeta[]>;
  /** One checkpoint with its tree, or null. */
  findCheckpoint(shardId: ShardId, seq: number): Promise<Checkpoint | null>;
  /** The newest checkpoint with its tree, or null when the shard has none. */
  latestCheckpoint(shardId: ShardId): Promise<Checkpoint | null>;
  /**
   * The Yjs state of each listed file as of checkpoint `seq` (files with no stored state at or
   * before it are absent from the map).
   */
  readCheckpointFiles(shardId: ShardId, seq: number, fileIds: readonly FileId[]): Promise<Map<FileId, Uint8Array>>;
  /**
   * Deletes checkpoints the policy no longer keeps, across all shards (or one), oldest shards
   * first. A deleted checkpoint's file states still needed by the next kept checkpoint move to
   * it, and its authors join that checkpoint's. Idempotent.
   */
  pruneCheckpoints(policy: RetentionPolicy, options?: { now?: Date; shardId?: ShardId }): Promise<PruneResult>;
  /**
   * Shard rows (no files) matching `filter`, most recently updated first (ties: higher id
   * first), at most `limit`, starting after `after`. Keyset pagination: a shard updated between
   * two pages moves to the front and is not repeated on a later page.
   */
  list(filter: ShardListFilter, page: { limit: number; after?: ShardListCursor | undefined }): Promise<ShardMeta[]>;
  /**
   * Moves the updated time of shards changed live (edits and file operations not synced yet):
   * each listed shard's updated_at becomes its time where the stored one is older (never
   * backwards). Shards that do not exist are skipped, never created. Returns how many rows moved.
   *
   * With `wait: false` the write is given up at once, resolving to null with nothing written,
   * when it would have to wait for another connection's write lock (SQLite: a sync thread's
   * transaction holds the file's lock, and libsql would wait for it blocking the calling thread).
   * PostgreSQL waits without blocking the thread, so it ignores the option.
   */
  touch(changes: ReadonlyMap<ShardId, Date>, options?: { wait?: boolean }): Promise<number | null>;
  /** Sets a shard's name (and updated_at = now); the updated row, or null when there is none. */
  rename(id: ShardId, name: string): Promise<ShardMeta | null>;
  /** Deletes a shard, its files and its checkpoints (FK cascade). Returns whether it existed. */
  delete(id: ShardId): Promise<boolean>;
  /** Closes the pool or file handle. Idempotent. */
  close(): Promise<void>;
}
