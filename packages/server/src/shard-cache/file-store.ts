import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { comparePaths, ErrorCode, type FileEntry, type FileId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import { historyAuthorsKey, shardKeys, type ShardKeys } from '../redis/index.js';
import { pathIndexEntry } from './fold-path.js';
import { scriptErrorCode } from './script-errors.js';
import { ShardScripts, type StoredEdit } from './scripts.js';
import type { DirtyMarks } from './dirty-marks.js';
import type { ShardActivity } from './shard-activity.js';
import type { AuthorNote } from './history-authors.js';
import type { ShardLoader } from './shard-loader.js';
import type {
  CreateFileResult,
  DeleteResult,
  FileSyncRead,
  PutBlobResult,
  RenameResult,
  TreeOpOptions,
} from './types.js';
import { stateFromText } from './ydoc.js';

export type FileStoreDeps = {
  redis: Redis | Cluster;
  keyPrefix: string;
  limits: Config['limits'];
  /** Reloads a shard Redis lost while people are in it (see ShardLoader.loadedOp). */
  loader: ShardLoader;
  /** Where every stored change marks its shard for the scheduler. */
  marks: Pick<DirtyMarks, 'mark'>;
  /** Where every stored change notes its shard's updated time. */
  activity: Pick<ShardActivity, 'note'>;
};

/**
 * The files of open shards: the tree, the shard clock, each file's updates, and the atomic
 * edit, create, rename and delete steps (Lua). Holds no document in memory.
 */
export class FileStore {
  private readonly scripts: ShardScripts;

  constructor(private readonly deps: FileStoreDeps) {
    this.scripts = new ShardScripts(deps.redis);
  }

  /** The shard's file tree, sorted by path; binary files carry `kind: 'binary'`. */
  async tree(shardId: ShardId): Promise<FileEntry[]> {
    const k = this.keys(shardId);
    // One MULTI: a file created between two separate reads would show without its kind.
    const results = await this.deps.redis.multi().hgetall(k.tree).hgetall(k.kinds).exec();
    if (results === null) throw new Error('Redis transaction was aborted');
    for (const [error] of results) if (error !== null) throw error;
    const [all, kinds] = results.map(([, value]) => value) as [Record<string, string>, Record<string, string>];
    return Object.entries(all)
      .map(([id, path]): FileEntry =>
        kinds[id] === 'binary' ? { id: id as FileId, path, kind: 'binary' } : { id: id as FileId, path },
      )
      .sort((a, b) => comparePaths(a.path, b.path));
  }

  /**
   * The file tree with the clock value it is current at, read in one MULTI (so every file
   * operation up to that version is in it), with the replies of the operations whose ids the
   * database does not hold yet (see includes/ops.lua); null when the shard is not loaded.
   */
  async treeAt(shardId: ShardId): Promise<{
    version: number;
    loadId: string;
    files: FileEntry[];
    ops: Array<{ opId: string; reply: string }>;
  } | null> {
    const k = this.keys(shardId);
    const replies = await this.deps.redis
      .multi()
      .hget(k.meta, 'loaded')
      .hget(k.meta, 'loadId')
      .get(k.seq)
      .hgetall(k.tree)
      .hgetall(k.kinds)
      .hgetall(k.opsPending)
      .exec();
    if (replies === null) return null;
    for (const [error] of replies) if (error) throw error;
    const [loaded, loadId, seq, tree, kinds, pending] = replies.map(([, value]) => value) as [
      string | null,
      string | null,
      string | null,
      Record<string, string>,
      Record<string, string>,
      Record<string, string>,
    ];
    if (loaded !== '1') return null;
    const files: FileEntry[] = [];
    for (const [id, path] of Object.entries(tree))
      files.push(kinds[id] === 'binary' ? { id: id as FileId, path, kind: 'binary' } : { id: id as FileId, path });
    const ops = Object.entries(pending).map(([opId, reply]) => ({ opId, reply }));
    return { version: Number(seq ?? 0), loadId: loadId ?? '', files, ops };
  }

  /** Forgets pending operation replies (treeAt) once the database holds them. */
  async opsWritten(shardId: ShardId, opIds: readonly string[]): Promise<void> {
    if (opIds.length > 0) await this.deps.redis.hdel(this.keys(shardId).opsPending, ...opIds);
  }

  /** A binary file's bytes (the last entry of its list), or null when Redis holds none for it. */
  async blob(shardId: ShardId, fileId: FileId): Promise<Buffer | null> {
    const [last] = await this.deps.redis.lrangeBuffer(this.keys(shardId).doc(fileId), -1, -1);
    return last ?? null;
  }

  /**
   * Creates a binary file at `path` (canonical) or replaces the bytes of the binary file there.
   * Throws FILE_TOO_LARGE past MAX_ASSET_BYTES, FILE_KIND_MISMATCH when a text file is there,
   * FILE_EXISTS, TOO_MANY_FILES, and the backlog refusal (see appendUpdate).
   */
  putBlob(shardId: ShardId, path: string, bytes: Uint8Array): Promise<PutBlobResult> {
    if (bytes.byteLength > this.deps.limits.maxAssetBytes) {
      throw new AppError(
        ErrorCode.FILE_TOO_LARGE,
        `a binary file may hold at most ${this.deps.limits.maxAssetBytes} bytes (MAX_ASSET_BYTES)`,
      );
    }
    const k = this.keys(shardId);
    const args = {
      fileId: newFileId(),
      path,
      bytes,
      maxFiles: this.deps.limits.maxFilesPerShard,
      maxUnsyncedBytes: this.deps.limits.maxShardUnsyncedBytes,
    };
    return this.deps.loader.loadedOp(shardId, () => this.indexed(shardId, () => this.scripts.putBlob(k, args)));
  }

  /** The shard clock. */
  async version(shardId: ShardId): Promise<number> {
    return Number((await this.deps.redis.get(this.keys(shardId).seq)) ?? 0);
  }

  /** All stored updates of a file, oldest first (the first is its merged state). */
  updates(shardId: ShardId, fileId: FileId): Promise<Uint8Array[]> {
    return this.deps.redis.lrangeBuffer(this.keys(shardId).doc(fileId), 0, -1);
  }

  /** The file sync handshake's read: whether the file is in the tree, its updates, and the shard clock. */
  readForSync(shardId: ShardId, fileId: FileId): Promise<FileSyncRead> {
    return this.scripts.fileSyncRead(this.keys(shardId), { fileId });
  }

  /**
   * Appends a Yjs update and marks the file dirty in one atomic step. Returns the new version.
   * Throws FILE_TOO_LARGE, and SHARD_UNAVAILABLE with reason `backlog` when the shard's unsynced
   * bytes would pass MAX_SHARD_UNSYNCED_BYTES (see isBacklogRefusal).
   */
  async appendUpdate(shardId: ShardId, fileId: FileId, update: Uint8Array): Promise<number> {
    return (await this.appendEdit(shardId, fileId, update)).version;
  }

  /**
   * appendUpdate, also telling whether an instance other than `fromInstance` (the instance whose
   * socket sent the edit) may have a socket in the shard, in the same atomic step: when none has,
   * the edit's broadcast need not be published to other instances (includes/member-instances.lua).
   * `author`: noted for the shard's next checkpoint in the same step (HistoryAuthors.noteOf).
   */
  appendEdit(
    shardId: ShardId,
    fileId: FileId,
    update: Uint8Array,
    options: { fromInstance?: string | undefined; author?: AuthorNote | undefined } = {},
  ): Promise<StoredEdit> {
    const k = this.keys(shardId);
    return this.marked(
      shardId,
      this.deps.loader.loadedOp(shardId, () =>
        this.scripts.edit(k, {
          fileId,
          update,
          maxDocBytes: maxDocBytes(this.deps.limits),
          maxUnsyncedBytes: this.deps.limits.maxShardUnsyncedBytes,
          instanceId: options.fromInstance,
          authorsKey: historyAuthorsKey(this.deps.keyPrefix, shardId),
          author: options.author,
        }),
      ),
    );
  }

  /**
   * Creates a file (path already canonical). Throws FILE_EXISTS, TOO_MANY_FILES, and the backlog
   * refusal when its initial state would take the shard past MAX_SHARD_UNSYNCED_BYTES. With a
   * client-chosen `fileId`, also FILE_EXISTS when the shard has or had (unsynced) that id at
   * another path; the same id at the same path is an idempotent success.
   */
  async createFile(
    shardId: ShardId,
    path: string,
    content: string,
    options: TreeOpOptions & { fileId?: FileId | undefined } = {},
  ): Promise<CreateFileResult> {
    if (Buffer.byteLength(content, 'utf8') > this.deps.limits.maxFileBytes) {
      throw new AppError(ErrorCode.FILE_TOO_LARGE, `a file may hold at most ${this.deps.limits.maxFileBytes} bytes`);
    }
    const k = this.keys(shardId);
    const args = {
      fileId: options.fileId ?? newFileId(),
      path,
      state: stateFromText(content),
      maxFiles: this.deps.limits.maxFilesPerShard,
      opId: options.opId,
      clientId: options.fileId !== undefined,
      maxUnsyncedBytes: this.deps.limits.maxShardUnsyncedBytes,
    };
    return this.marked(
      shardId,
      this.deps.loader.loadedOp(shardId, () => this.indexed(shardId, () => this.scripts.createFile(k, args))),
    );
  }

  /** Renames a file or a folder (paths canonical). */
  rename(shardId: ShardId, from: string, to: string, options: TreeOpOptions = {}): Promise<RenameResult> {
    const k = this.keys(shardId);
    return this.marked(
      shardId,
      this.deps.loader.loadedOp(shardId, () =>
        this.indexed(shardId, () => this.scripts.rename(k, { from, to, opId: options.opId })),
      ),
    );
  }

  /** Deletes a file or a folder (path canonical). */
  delete(shardId: ShardId, path: string, options: TreeOpOptions = {}): Promise<DeleteResult> {
    const k = this.keys(shardId);
    return this.marked(
      shardId,
      this.deps.loader.loadedOp(shardId, () =>
        this.indexed(shardId, () => this.scripts.delete(k, { path, opId: options.opId })),
      ),
    );
  }

  /**
   * Runs a tree step; a shard loaded by a version without the path index (NOT_INDEXED) gets its
   * index built from the tree first. A tree step racing that rebuild on another instance can
   * leave a stale entry, which at worst refuses one create or move with FILE_EXISTS until evicted.
   */
  private async indexed<T>(shardId: ShardId, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (scriptErrorCode(error) !== 'NOT_INDEXED') throw error;
    }
    const k = this.keys(shardId);
    const tree = await this.deps.redis.hgetall(k.tree);
    const entries = Object.entries(tree).map(([id, path]) => pathIndexEntry(path, id));
    for (let i = 0; i < entries.length; i += 500) {
      await this.deps.redis.zadd(k.paths, ...entries.slice(i, i + 500).flatMap((e) => [0, e]));
    }
    return op();
  }

  /** Marks the shard for the scheduler, and notes its updated time, once the change is stored. */
  private async marked<T>(shardId: ShardId, stored: Promise<T>): Promise<T> {
    const result = await stored;
    this.deps.marks.mark(shardId);
    this.deps.activity.note(shardId);
    return result;
  }

  private keys(shardId: ShardId): ShardKeys {
    return shardKeys(this.deps.keyPrefix, shardId);
  }
}

/**
 * The Yjs data one file may hold in Redis between two syncs: its merged state plus every update
 * since. Edit history costs more than the text it leaves (a replace is a delete and an insert),
 * so the budget is four times the text limit; each sync compacts the list back to one state.
 */
export function maxDocBytes(limits: Config['limits']): number {
  return limits.maxFileBytes * 4;
}

/** A new random file id (16 url-safe characters). */
export function newFileId(): FileId {
  return randomBytes(12).toString('base64url') as FileId;
}
