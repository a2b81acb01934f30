import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import {
  comparePaths,
  describePathProblem,
  ErrorCode,
  normalizePath,
  type FileEntry,
  type FileId,
  type FileSyncResult,
  type ShardDetail,
  type ShardId,
  type ShardSummary,
  type TreeChange,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { toShardSummary, type IShardRepository, type StoredFile } from '../persistence/index.js';
import type { TemplateRegistry } from '../templates/index.js';
import {
  checkTextUpdate,
  isBacklogRefusal,
  mergeUpdatesBalanced,
  newFileId,
  stateFromText,
  textFromUpdates,
  updateToText,
  type FileStateVectors,
  type ShardCache,
  type TextUpdate,
  type TreeOpOptions,
} from '../shard-cache/index.js';
import { assertAccess, accessTo, type Principal } from '../auth/index.js';
import type { Faults } from '../faults/index.js';
import { zipStream, type ZipSourceFile } from './zip-stream.js';

/** Where the service announces changes so live collaborators see them (the socket rooms). */
export interface ShardEvents {
  fileEdited(shardId: ShardId, fileId: FileId, update: Uint8Array, version: number, exceptSocketId?: string): void;
  treeChanged(shardId: ShardId, change: TreeChange, version: number): void;
  /** The shard was (re)loaded from the database; anyone already in it should resync. */
  reloaded(shardId: ShardId): void;
}

export type ShardServiceDeps = {
  repository: IShardRepository;
  cache: ShardCache;
  /** What Redis holds of each file, to refuse edits whose dependencies it lacks. */
  stateVectors: FileStateVectors;
  templates: TemplateRegistry;
  logger: Logger;
  limits: Config['limits'];
  events: ShardEvents;
  /** Called when the last member anywhere in the cluster left a shard. */
  onLastLeave: (shardId: ShardId) => void;
  /** Called after each accepted edit (metrics). */
  onEdit?: () => void;
  /**
   * Called when a write was refused because the shard holds MAX_SHARD_UNSYNCED_BYTES of unsynced
   * changes: sync the shard now, so the writer's retry finds room.
   */
  onBacklog?: (shardId: ShardId) => void;
  /** Test-only fault injection between a store and its broadcast. */
  faults?: Faults;
};

/**
 * Every read and write of a shard goes through here, whether it comes from REST or from a
 * socket: writes land in the Redis cache (loading the shard if needed) and are broadcast to
 * the room, so REST edits reach live collaborators and sync persists everything the same way.
 */
export class ShardService {
  /** Per file (`shardId/fileId`): the tail of this instance's edits to it, run one after another. */
  private readonly editChains = new Map<string, Promise<void>>();

  constructor(private readonly deps: ShardServiceDeps) {}

  // ---- shards ----------------------------------------------------------------------------

  async create(principal: Principal, input: { templateId: string; name: string }): Promise<ShardDetail> {
    if (!principal.canCreate) {
      throw new AppError(
        ErrorCode.FORBIDDEN,
        'your token does not allow creating shards (needs role admin or create: true)',
      );
    }
    const template = this.deps.templates.get(input.templateId);
    if (template === undefined) {
      throw new AppError(ErrorCode.TEMPLATE_NOT_FOUND, `no template "${input.templateId}"; GET /templates lists them`);
    }
    if (Object.keys(template.files).length > this.deps.limits.maxFilesPerShard) {
      throw new AppError(
        ErrorCode.TOO_MANY_FILES,
        `the template has more files than MAX_FILES_PER_SHARD (${this.deps.limits.maxFilesPerShard})`,
      );
    }
    const now = new Date();
    const files: StoredFile[] = Object.entries(template.files).map(([path, file]) => ({
      id: newFileId(),
      path,
      content: file.content,
      ydocState: stateFromText(file.content),
      version: 0,
      updatedAt: now,
    }));
    const shard = {
      id: randomUUID() as ShardId,
      name: input.name,
      templateId: template.id,
      templateRevision: template.revision,
      dependencies: { ...template.dependencies },
      devDependencies: { ...template.devDependencies },
      createdAt: now,
      updatedAt: now,
      lastSyncTimestamp: 0,
      files,
    };
    await this.deps.repository.save(shard);
    this.deps.logger.info({ shardId: shard.id, templateId: template.id, userId: principal.userId }, 'shard created');
    return { ...toShardSummary(shard), files: sortEntries(files.map((f) => ({ id: f.id, path: f.path }))) };
  }

  /** The shard and its file tree: from the cache when open (the live tree), else the database. */
  async get(principal: Principal, shardId: ShardId): Promise<ShardDetail> {
    assertAccess(principal, shardId, 'read');
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const files = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId)) return { ...cached, files };
    }
    const shard = await this.findOrThrow(shardId);
    return { ...toShardSummary(shard), files: sortEntries(shard.files.map((f) => ({ id: f.id, path: f.path }))) };
  }

  async readFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
  ): Promise<{ file: FileEntry; content: string }> {
    assertAccess(principal, shardId, 'read');
    const path = this.canonical(rawPath);
    if (await this.deps.cache.loader.isLoaded(shardId)) {
      const file = (await this.deps.cache.files.tree(shardId)).find((f) => f.path === path);
      if (file !== undefined) {
        const updates = await this.deps.cache.files.updates(shardId, file.id);
        if (updates.length > 0) return { file, content: textFromUpdates(updates) };
      } else if (await this.deps.cache.loader.isLoaded(shardId)) {
        throw fileNotFound(path);
      }
    }
    const shard = await this.findOrThrow(shardId);
    const stored = shard.files.find((f) => f.path === path);
    if (stored === undefined) throw fileNotFound(path);
    return { file: { id: stored.id, path: stored.path }, content: stored.content };
  }

  /** Replaces a file's text (creating the file if it does not exist). */
  async writeFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    content: string,
  ): Promise<{ file: FileEntry; version: number; created: boolean }> {
    assertAccess(principal, shardId, 'write');
    const path = this.canonical(rawPath);
    this.checkFileSize(content);
    return this.transiently(shardId, async () => {
      const existing = (await this.deps.cache.files.tree(shardId)).find((f) => f.path === path);
      if (existing === undefined) {
        const { file, version } = await this.deps.cache.files.createFile(shardId, path, content);
        this.deps.faults?.afterStore('tree');
        this.deps.events.treeChanged(shardId, { kind: 'created', file }, version);
        return { file, version, created: true };
      }
      const updates = await this.deps.cache.files.updates(shardId, existing.id);
      const update = updateToText(updates, content);
      if (update === null)
        return { file: existing, version: await this.deps.cache.files.version(shardId), created: false };
      const version = await this.deps.cache.files.appendUpdate(shardId, existing.id, update);
      this.deps.faults?.afterStore('edit');
      this.deps.events.fileEdited(shardId, existing.id, update, version);
      return { file: existing, version, created: false };
    });
  }

  /**
   * Creates a file. `opId` makes it idempotent and `fileId` is the id the client chose; a
   * replayed operation returns its first outcome, which was broadcast then (not again now).
   */
  async createFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    content = '',
    options: TreeOpOptions & { fileId?: FileId | undefined } = {},
  ): Promise<{ file: FileEntry; version: number }> {
    assertAccess(principal, shardId, 'write');
    const path = this.canonical(rawPath);
    this.checkFileSize(content);
    return this.transiently(shardId, async () => {
      const { replayed, ...created } = await this.deps.cache.files.createFile(shardId, path, content, options);
      if (replayed) return created;
      this.deps.faults?.afterStore('tree');
      this.deps.events.treeChanged(shardId, { kind: 'created', file: created.file }, created.version);
      return created;
    });
  }

  async renameFile(
    principal: Principal,
    shardId: ShardId,
    rawFrom: string,
    rawTo: string,
    options: TreeOpOptions = {},
  ): Promise<{ moves: Array<{ id: FileId; from: string; to: string }>; version: number }> {
    assertAccess(principal, shardId, 'write');
    const from = this.canonical(rawFrom);
    const to = this.canonical(rawTo);
    if (from === to) throw new AppError(ErrorCode.PATH_INVALID, 'the new path equals the old one');
    return this.transiently(shardId, async () => {
      // A folder move must keep every moved path within the path limits too.
      for (const file of await this.deps.cache.files.tree(shardId)) {
        if (file.path.startsWith(`${from}/`)) this.canonical(to + file.path.slice(from.length));
      }
      const { replayed, ...result } = await this.deps.cache.files.rename(shardId, from, to, options);
      if (replayed) return result;
      this.deps.faults?.afterStore('tree');
      this.deps.events.treeChanged(shardId, { kind: 'renamed', moves: result.moves }, result.version);
      return result;
    });
  }

  async deleteFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    options: TreeOpOptions = {},
  ): Promise<{ files: FileEntry[]; version: number }> {
    assertAccess(principal, shardId, 'write');
    const path = this.canonical(rawPath);
    return this.transiently(shardId, async () => {
      const { replayed, ...result } = await this.deps.cache.files.delete(shardId, path, options);
      if (replayed) return result;
      this.deps.faults?.afterStore('tree');
      this.deps.events.treeChanged(shardId, { kind: 'deleted', files: result.files }, result.version);
      return result;
    });
  }

  /**
   * The whole shard as a zip archive of its current text, streamed one file at a time (see
   * zipStream): the event loop never holds more than one file's work, and memory holds one file.
   * Access and existence are checked before the first byte; a shard over ZIP_MAX_BYTES is refused
   * up front when it is read from the database, and cut short when it is open (its size is only
   * known file by file).
   */
  async zip(principal: Principal, shardId: ShardId): Promise<{ name: string; stream: AsyncIterable<Uint8Array> }> {
    assertAccess(principal, shardId, 'read');
    const { name, files } = await this.contents(shardId);
    return { name, stream: zipStream(files, { maxBytes: this.deps.limits.zipMaxBytes }) };
  }

  /**
   * The text of every file, one file at a time: from the cache when the shard is open (the tree
   * once, then each file's updates), else from one read of the stored shard. A file whose updates
   * are gone was evicted while we read, which happens only after a flush: it is read from the
   * database (once for the whole archive).
   */
  private async contents(shardId: ShardId): Promise<{ name: string; files: AsyncIterable<ZipSourceFile> }> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const tree = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId))
        return { name: cached.name, files: this.cachedContents(shardId, tree) };
    }
    const shard = await this.findOrThrow(shardId);
    const bytes = shard.files.reduce((sum, f) => sum + Buffer.byteLength(f.content, 'utf8'), 0);
    if (bytes > this.deps.limits.zipMaxBytes) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the shard's files hold ${bytes} bytes, more than ZIP_MAX_BYTES (${this.deps.limits.zipMaxBytes}); download the files one by one`,
      );
    }
    return { name: shard.name, files: toAsync(shard.files.map((f) => ({ path: f.path, content: f.content }))) };
  }

  private async *cachedContents(shardId: ShardId, tree: readonly FileEntry[]): AsyncGenerator<ZipSourceFile> {
    let stored: Map<FileId, string> | undefined;
    for (const file of tree) {
      const updates = await this.deps.cache.files.updates(shardId, file.id);
      if (updates.length > 0) {
        yield { path: file.path, content: textFromUpdates(updates) };
        continue;
      }
      stored ??= new Map((await this.findOrThrow(shardId)).files.map((f) => [f.id, f.content]));
      const content = stored.get(file.id);
      if (content !== undefined) yield { path: file.path, content };
    }
  }

  // ---- realtime ----------------------------------------------------------------------------

  /** Adds a member and loads the shard if needed. On failure the member is removed again. */
  async join(
    principal: Principal,
    shardId: ShardId,
    member: string,
  ): Promise<{ shard: ShardSummary; files: FileEntry[]; canWrite: boolean; version: number }> {
    assertAccess(principal, shardId, 'read');
    // Member first, then load: an eviction that runs after this point sees the member and
    // backs off; one that ran before leaves nothing, and the load below starts afresh.
    await this.deps.cache.members.add(shardId, member);
    try {
      await this.deps.cache.loader.ensureLoaded(shardId);
      const meta = await this.deps.cache.loader.meta(shardId);
      if (meta === null) throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard is not loaded; retry');
      const [files, version] = await Promise.all([
        this.deps.cache.files.tree(shardId),
        this.deps.cache.files.version(shardId),
      ]);
      return { shard: meta, files, canWrite: accessTo(principal, shardId) === 'write', version };
    } catch (error) {
      await this.leave(shardId, member);
      throw error;
    }
  }

  /** Removes a member; the last one out anywhere triggers the last-leave hook. */
  async leave(shardId: ShardId, member: string): Promise<void> {
    const left = await this.deps.cache.members.remove(shardId, member);
    if (left === 0) this.deps.onLastLeave(shardId);
  }

  /** Yjs sync step 1 → step 2: what the client lacks, plus the server's state vector. */
  async syncFile(
    principal: Principal,
    shardId: ShardId,
    fileId: FileId,
    stateVector: Uint8Array,
  ): Promise<FileSyncResult> {
    assertAccess(principal, shardId, 'read');
    // One atomic read: the clock returned covers every update returned.
    const { updates, version } = await this.fileForSync(shardId, fileId);
    const merged = mergeUpdatesBalanced(updates);
    let update: Uint8Array;
    try {
      update = Y.diffUpdate(merged, stateVector);
    } catch (error) {
      throw new AppError(ErrorCode.UPDATE_MALFORMED, 'the state vector could not be decoded', { cause: error });
    }
    return { fileId, update, stateVector: Y.encodeStateVectorFromUpdate(merged), version };
  }

  /** Validates and stores a Yjs update, then broadcasts it. The returned version means it is in Redis. */
  async edit(
    principal: Principal,
    shardId: ShardId,
    fileId: FileId,
    update: Uint8Array,
    exceptSocketId?: string,
  ): Promise<number> {
    assertAccess(principal, shardId, 'write');
    if (update.byteLength > this.deps.limits.maxUpdateBytes) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `an update may hold at most ${this.deps.limits.maxUpdateBytes} bytes`,
      );
    }
    const parsed = checkTextUpdate(update);
    if (parsed === 'malformed') {
      throw new AppError(ErrorCode.UPDATE_MALFORMED, 'the update is not a valid Yjs update (v1 encoding)');
    }
    if (parsed === 'not-text') {
      throw new AppError(
        ErrorCode.UPDATE_MALFORMED,
        `a file holds plain text only: the update puts something else (an embed, formatting, another shared type) into it or writes outside its "content" text`,
      );
    }
    // One at a time per file on this instance: an editor's next keystroke builds on the previous
    // one, whose check and store must be done before the next one is checked.
    const version = await this.serially(`${shardId}/${fileId}`, async () => {
      await this.requireDependencies(shardId, fileId, parsed);
      const stored = await this.syncOnBacklog(shardId, this.deps.cache.files.appendUpdate(shardId, fileId, update));
      this.deps.stateVectors.noteStored(shardId, fileId, parsed);
      return stored;
    });
    this.deps.faults?.afterStore('edit');
    this.deps.events.fileEdited(shardId, fileId, update, version, exceptSocketId);
    this.deps.onEdit?.();
    return version;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /**
   * Refuses an update that would not fully integrate into what Redis holds of the file (an origin,
   * an earlier item of its client or a deleted item is missing): stored, it would stay pending in
   * every document built from the file, forever if the missing part never comes. The code is one
   * the SDK retries by running the sync handshake again (docs/protocol.md §7), which sends the
   * server everything it lacks, the missing part included.
   */
  private async requireDependencies(shardId: ShardId, fileId: FileId, update: TextUpdate): Promise<void> {
    let found = await this.deps.stateVectors.check(shardId, fileId, update);
    if (found === 'unknown') {
      await this.deps.cache.loader.ensureLoaded(shardId);
      found = await this.deps.stateVectors.check(shardId, fileId, update);
    }
    // 'unknown' again: no updates for this file even with the shard loaded; the store refuses
    // the edit with FILE_NOT_FOUND.
    if (found === 'missing') {
      throw new AppError(
        ErrorCode.SHARD_UNAVAILABLE,
        'the update depends on edits the server does not have; run file:sync for this file and send what the server lacks',
        { details: { fileId, reason: 'missing-dependencies' } },
      );
    }
  }

  private serially<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.editChains.get(key) ?? Promise.resolve();
    const run = previous.then(op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.editChains.set(key, tail);
    void tail.then(() => {
      if (this.editChains.get(key) === tail) this.editChains.delete(key);
    });
    return run;
  }

  private async fileForSync(shardId: ShardId, fileId: FileId): Promise<{ updates: Uint8Array[]; version: number }> {
    let read = await this.deps.cache.files.readForSync(shardId, fileId);
    if (!read.inTree && !read.loaded) {
      await this.deps.cache.loader.ensureLoaded(shardId);
      read = await this.deps.cache.files.readForSync(shardId, fileId);
    }
    if (!read.inTree) {
      throw new AppError(ErrorCode.FILE_NOT_FOUND, 'no file with this id in the shard', { details: { fileId } });
    }
    return read;
  }

  /** Runs a write with the shard open, as a short-lived member, so eviction cannot interleave. */
  private async transiently<T>(shardId: ShardId, op: () => Promise<T>): Promise<T> {
    const member = `rest:${randomUUID()}`;
    await this.deps.cache.members.add(shardId, member);
    try {
      await this.deps.cache.loader.ensureLoaded(shardId);
      return await this.syncOnBacklog(shardId, op());
    } finally {
      await this.leave(shardId, member);
    }
  }

  /** A write refused for the shard's backlog asks for a sync of the shard, then fails as it was. */
  private async syncOnBacklog<T>(shardId: ShardId, write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (error) {
      if (isBacklogRefusal(error)) this.deps.onBacklog?.(shardId);
      throw error;
    }
  }

  private canonical(raw: string): string {
    const limits = { maxPathLength: this.deps.limits.maxPathLength, maxPathDepth: this.deps.limits.maxPathDepth };
    const result = normalizePath(raw, limits);
    if (!result.ok) {
      throw new AppError(ErrorCode.PATH_INVALID, `invalid path: ${describePathProblem(result.problem, limits)}`, {
        details: { problem: result.problem },
      });
    }
    return result.path;
  }

  private checkFileSize(content: string): void {
    if (Buffer.byteLength(content, 'utf8') > this.deps.limits.maxFileBytes) {
      throw new AppError(ErrorCode.FILE_TOO_LARGE, `a file may hold at most ${this.deps.limits.maxFileBytes} bytes`);
    }
  }

  private async findOrThrow(shardId: ShardId) {
    let shard;
    try {
      shard = await this.deps.repository.findById(shardId);
    } catch (error) {
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the database is not reachable; retry', { cause: error });
    }
    if (shard === null)
      throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id', { details: { shardId } });
    return shard;
  }
}

async function* toAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

function fileNotFound(path: string): AppError {
  return new AppError(ErrorCode.FILE_NOT_FOUND, `no file at "${path}"`, { details: { path } });
}

function sortEntries(files: FileEntry[]): FileEntry[] {
  return files.sort((a, b) => comparePaths(a.path, b.path));
}
