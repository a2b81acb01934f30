import {
  ErrorCode,
  type FileEntry,
  type FileId,
  type FileSyncResult,
  type SearchResult,
  type ShardDetail,
  type ShardId,
  type ShardPage,
  type ShardSummary,
  type JoinResult,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { toShardSummary, type CheckpointMeta, type IShardRepository } from '../persistence/index.js';
import type { TemplateRegistry } from '../templates/index.js';
import { updateToText, type FileStateVectors, type ShardCache, type TreeOpOptions } from '../shard-cache/index.js';
import type { Access, Principal } from '../auth/index.js';
import type { Faults } from '../faults/index.js';
import { canonicalPath, sortByPath } from './canonical-path.js';
import { storeNewShard } from './new-shard.js';
import { EditGate } from './edit-gate.js';
import { shardFromTemplate } from './shard-from-template.js';
import { ShardMembership } from './shard-membership.js';
import { ShardReader, entryOfStored, type FileRead } from './shard-reader.js';
import { TreeWriteThrough } from './tree-write-through.js';
import { ShardAccess } from './shard-access.js';
import { ShardProjects } from './shard-projects.js';
import type { SearchOptions } from './text-search.js';
import { zipStream } from './zip-stream.js';
import { readZipArchive } from './zip-import.js';
import { guessTemplateId, shardFromImport } from './shard-from-import.js';
import { ShardHistory, type CheckpointNow } from './shard-history.js';
import type { HistoryThreads } from './history-threads.js';
import type { ShardEvents } from './shard-events.js';

export type { ShardEvents } from './shard-events.js';

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
  onEdit?: (seconds: number) => void;
  /**
   * Called when a write was refused because the shard holds MAX_SHARD_UNSYNCED_BYTES of unsynced
   * changes: sync the shard now, so the writer's retry finds room.
   */
  onBacklog?: (shardId: ShardId) => void;
  /** Test-only fault injection between a store and its broadcast. */
  faults?: Faults;
  /** Flushes a shard and records a checkpoint of it (history: named versions, before a restore). */
  checkpointNow: CheckpointNow;
  /** Syncs a shard to the database now. */
  flush: (shardId: ShardId) => Promise<void>;
  /** Worker threads for version history's merges and diffs (createHistoryThreads). */
  threads: HistoryThreads;
  /** Tells the shard's room on every instance that a checkpoint was recorded; never rejects. */
  announceCheckpoint: (shardId: ShardId, checkpoint: CheckpointMeta) => Promise<void>;
};

/**
 * Every read and write of a shard goes through here, whether it comes from REST or from a
 * socket: writes land in the Redis cache (loading the shard if needed) and are broadcast to
 * the room, so REST edits reach live collaborators and sync persists everything the same way.
 * Reads are ShardReader's, the checks an edit passes EditGate's, and who holds a shard open
 * ShardMembership's; this class checks access and paths, and announces every stored change.
 */
export class ShardService {
  private readonly reader: ShardReader;
  private readonly editGate: EditGate;
  private readonly membership: ShardMembership;
  private readonly treeWrites: TreeWriteThrough;
  /** Version history: checkpoints, diffs and restores. */
  readonly history: ShardHistory;
  private readonly access: ShardAccess;
  private readonly projects: ShardProjects;

  constructor(private readonly deps: ShardServiceDeps) {
    this.reader = new ShardReader(deps);
    this.editGate = new EditGate(deps);
    this.membership = new ShardMembership(deps);
    this.treeWrites = new TreeWriteThrough(deps);
    this.access = new ShardAccess(deps);
    this.projects = new ShardProjects({ ...deps, access: this.access, reader: this.reader });
    this.history = new ShardHistory(
      deps,
      this.reader,
      this.membership,
      {
        createFile: (principal, shardId, path, content) => this.createFile(principal, shardId, path, content),
        putBlob: (principal, shardId, path, bytes) => this.putBlob(principal, shardId, path, bytes),
        renameFile: (principal, shardId, from, to) => this.renameFile(principal, shardId, from, to),
        deleteFile: (principal, shardId, path) => this.deleteFile(principal, shardId, path),
      },
      this.access,
    );
  }

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
    const shard = shardFromTemplate(template, input.name, principal.userId);
    await storeNewShard({ repository: this.deps.repository, access: this.access }, shard, principal);
    this.deps.logger.info({ shardId: shard.id, templateId: template.id, userId: principal.userId }, 'shard created');
    return { ...toShardSummary(shard), files: sortByPath(shard.files.map(entryOfStored)) };
  }

  /** The shards the principal may read, most recently updated first, one page at a time (see ShardProjects). */
  list(principal: Principal, page: { limit?: number | undefined; cursor?: string | undefined }): Promise<ShardPage> {
    return this.projects.list(principal, page);
  }

  /** Renames a shard (write access) and tells its room. */
  rename(principal: Principal, shardId: ShardId, name: string): Promise<ShardSummary> {
    return this.projects.rename(principal, shardId, name);
  }

  /** Deletes a shard (its owner or an admin): rows, cache and room (see ShardProjects). */
  delete(principal: Principal, shardId: ShardId): Promise<void> {
    return this.projects.delete(principal, shardId);
  }

  /** Copies a shard's live state into a new shard the caller owns (read access suffices). */
  fork(principal: Principal, shardId: ShardId, name?: string): Promise<ShardDetail> {
    return this.projects.fork(principal, shardId, name);
  }

  /** Searches the live text of every file (read access). */
  search(principal: Principal, shardId: ShardId, options: SearchOptions): Promise<SearchResult> {
    return this.projects.search(principal, shardId, options);
  }

  /** The access a principal has to a shard, ownership included. */
  accessOf(principal: Principal, shardId: ShardId): Promise<Access> {
    return this.access.level(principal, shardId);
  }

  /** Throws FORBIDDEN (or READ_ONLY) unless the principal may read (or write) the shard, ownership included. */
  requireAccess(principal: Principal, shardId: ShardId, needed: 'read' | 'write'): Promise<void> {
    return this.access.require(principal, shardId, needed);
  }

  /** The shard and its file tree: from the cache when open (the live tree), else the database. */
  async get(principal: Principal, shardId: ShardId): Promise<ShardDetail> {
    await this.access.require(principal, shardId, 'read');
    return this.reader.detail(shardId);
  }

  /** A text file's entry and text, or a binary file's entry and bytes. */
  async readFile(principal: Principal, shardId: ShardId, rawPath: string): Promise<FileRead> {
    await this.access.require(principal, shardId, 'read');
    return this.reader.file(shardId, canonicalPath(rawPath, this.deps.limits));
  }

  /** Replaces a file's text (creating the file if it does not exist). */
  async writeFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    content: string,
  ): Promise<{ file: FileEntry; version: number; created: boolean }> {
    await this.access.require(principal, shardId, 'write');
    const path = canonicalPath(rawPath, this.deps.limits);
    this.checkFileSize(content);
    return this.membership.transiently(shardId, async () => {
      const existing = (await this.deps.cache.files.tree(shardId)).find((f) => f.path === path);
      if (existing?.kind === 'binary') {
        throw new AppError(
          ErrorCode.FILE_KIND_MISMATCH,
          `"${path}" is a binary file; upload its bytes with a binary content type, or delete it first`,
          { details: { path } },
        );
      }
      if (existing === undefined) {
        const { file, version, loadId } = await this.deps.cache.files.createFile(shardId, path, content);
        this.deps.faults?.afterStore('tree');
        this.deps.events.treeChanged(shardId, { kind: 'created', file }, version);
        await this.treeWrites.write(shardId, loadId);
        this.noteAuthor(principal, shardId);
        return { file, version, created: true };
      }
      const updates = await this.deps.cache.files.updates(shardId, existing.id);
      const update = updateToText(updates, content);
      if (update === null)
        return { file: existing, version: await this.deps.cache.files.version(shardId), created: false };
      const version = await this.deps.cache.files.appendUpdate(shardId, existing.id, update);
      this.deps.faults?.afterStore('edit');
      this.deps.events.fileEdited(shardId, existing.id, update, version);
      this.noteAuthor(principal, shardId);
      return { file: existing, version, created: false };
    });
  }

  /**
   * Creates a binary file (an image, a font…) or replaces the bytes of the binary file at the path;
   * FILE_KIND_MISMATCH when a text file is there, FILE_TOO_LARGE past MAX_ASSET_BYTES. Collaborators
   * see a `created` (with `kind: 'binary'`) or `replaced` tree change.
   */
  async putBlob(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    bytes: Uint8Array,
  ): Promise<{ file: FileEntry; version: number; created: boolean }> {
    await this.access.require(principal, shardId, 'write');
    const path = canonicalPath(rawPath, this.deps.limits);
    return this.membership.transiently(shardId, async () => {
      const { loadId, ...result } = await this.deps.cache.files.putBlob(shardId, path, bytes);
      this.deps.faults?.afterStore('tree');
      this.deps.events.treeChanged(
        shardId,
        { kind: result.created ? 'created' : 'replaced', file: result.file },
        result.version,
      );
      this.noteAuthor(principal, shardId);
      // A new file is a file operation: in the database before the answer (its bytes come with the sync).
      if (result.created) await this.treeWrites.write(shardId, loadId);
      return result;
    });
  }

  /**
   * Creates a shard from a zip archive (see readZipArchive for what is refused, before anything is
   * written): its files, text or binary, with the template given or the one that fits it best.
   */
  async importZip(
    principal: Principal,
    archive: Uint8Array,
    input: { name?: string | undefined; templateId?: string | undefined },
  ): Promise<ShardDetail> {
    if (!principal.canCreate) {
      throw new AppError(
        ErrorCode.FORBIDDEN,
        'your token does not allow creating shards (needs role admin or create: true)',
      );
    }
    if (input.templateId !== undefined && this.deps.templates.get(input.templateId) === undefined) {
      throw new AppError(ErrorCode.TEMPLATE_NOT_FOUND, `no template "${input.templateId}"; GET /templates lists them`);
    }
    const { files, rootFolder, skipped } = await readZipArchive(archive, this.deps.limits);
    if (files.length === 0) {
      throw new AppError(ErrorCode.ARCHIVE_INVALID, 'the zip holds no files (node_modules/ and .git/ are left out)');
    }
    const templateId = input.templateId ?? guessTemplateId(files, this.deps.templates);
    const template = templateId === undefined ? undefined : this.deps.templates.get(templateId);
    if (template === undefined) {
      throw new AppError(
        ErrorCode.TEMPLATE_NOT_FOUND,
        'no template fits the project; pass ?templateId= (GET /templates)',
      );
    }
    const name = input.name ?? rootFolder ?? 'Imported project';
    const shard = shardFromImport(files, {
      name,
      ownerId: principal.userId,
      templateId: template.id,
      templateRevision: template.revision,
    });
    await storeNewShard({ repository: this.deps.repository, access: this.access }, shard, principal);
    this.deps.logger.info(
      { shardId: shard.id, templateId: template.id, files: files.length, skipped, userId: principal.userId },
      'shard imported',
    );
    return { ...toShardSummary(shard), files: sortByPath(shard.files.map(entryOfStored)) };
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
    await this.access.require(principal, shardId, 'write');
    const path = canonicalPath(rawPath, this.deps.limits);
    this.checkFileSize(content);
    return this.membership.transiently(shardId, async () => {
      const { replayed, loadId, ...created } = await this.deps.cache.files.createFile(shardId, path, content, options);
      if (!replayed) {
        this.deps.faults?.afterStore('tree');
        this.deps.events.treeChanged(shardId, { kind: 'created', file: created.file }, created.version);
        this.noteAuthor(principal, shardId);
      }
      // Also for a replay: the first attempt may have died before its tree reached the database.
      await this.treeWrites.write(shardId, loadId);
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
    await this.access.require(principal, shardId, 'write');
    const from = canonicalPath(rawFrom, this.deps.limits);
    const to = canonicalPath(rawTo, this.deps.limits);
    if (from === to) throw new AppError(ErrorCode.PATH_INVALID, 'the new path equals the old one');
    return this.membership.transiently(shardId, async () => {
      // A folder move must keep every moved path within the path limits too.
      for (const file of await this.deps.cache.files.tree(shardId)) {
        if (file.path.startsWith(`${from}/`)) canonicalPath(to + file.path.slice(from.length), this.deps.limits);
      }
      const { replayed, loadId, ...result } = await this.deps.cache.files.rename(shardId, from, to, options);
      if (!replayed) {
        this.deps.faults?.afterStore('tree');
        this.deps.events.treeChanged(shardId, { kind: 'renamed', moves: result.moves }, result.version);
        this.noteAuthor(principal, shardId);
      }
      await this.treeWrites.write(shardId, loadId);
      return result;
    });
  }

  async deleteFile(
    principal: Principal,
    shardId: ShardId,
    rawPath: string,
    options: TreeOpOptions = {},
  ): Promise<{ files: FileEntry[]; version: number }> {
    await this.access.require(principal, shardId, 'write');
    const path = canonicalPath(rawPath, this.deps.limits);
    return this.membership.transiently(shardId, async () => {
      const { replayed, loadId, ...result } = await this.deps.cache.files.delete(shardId, path, options);
      if (!replayed) {
        this.deps.faults?.afterStore('tree');
        this.deps.events.treeChanged(shardId, { kind: 'deleted', files: result.files }, result.version);
        this.noteAuthor(principal, shardId);
      }
      await this.treeWrites.write(shardId, loadId, { deleted: result.files.map((f) => f.id) });
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
    await this.access.require(principal, shardId, 'read');
    const { name, files } = await this.reader.contents(shardId);
    return { name, stream: zipStream(files, { maxBytes: this.deps.limits.zipMaxBytes }) };
  }

  // ---- realtime ----------------------------------------------------------------------------

  /**
   * Adds a member and loads the shard if needed. On failure the member is removed again.
   * `instanceId`: the joining socket's instance; `othersPresent`: whether an instance other than
   * it may have a socket in the shard (then what the join tells the room is published).
   */
  async join(
    principal: Principal,
    shardId: ShardId,
    member: string,
    instanceId?: string,
  ): Promise<{ result: JoinResult; othersPresent: boolean }> {
    await this.access.require(principal, shardId, 'read');
    const { shard, files, version, clock, othersPresent } = await this.membership.join(shardId, member, instanceId);
    return {
      result: {
        shard,
        files,
        canWrite: (await this.access.level(principal, shardId)) === 'write',
        version,
        ...(clock === undefined ? {} : { clock }),
      },
      othersPresent,
    };
  }

  /** Removes a member; the last one out anywhere triggers the last-leave hook. */
  async leave(shardId: ShardId, member: string): Promise<void> {
    return this.membership.leave(shardId, member);
  }

  /** Removes a member of a deleted shard, without the last-leave hook (nothing is left to flush or evict). */
  async leaveDeleted(shardId: ShardId, member: string): Promise<void> {
    await this.deps.cache.members.remove(shardId, member);
  }

  /** Yjs sync step 1 → step 2: what the client lacks, plus the server's state vector. */
  async syncFile(
    principal: Principal,
    shardId: ShardId,
    fileId: FileId,
    stateVector: Uint8Array,
  ): Promise<FileSyncResult> {
    await this.access.require(principal, shardId, 'read');
    return this.reader.sync(shardId, fileId, stateVector);
  }

  /** Validates and stores a Yjs update, then broadcasts it. The returned version means it is in Redis. */
  async edit(
    principal: Principal,
    shardId: ShardId,
    fileId: FileId,
    update: Uint8Array,
    exceptSocketId?: string,
  ): Promise<number> {
    const started = performance.now();
    await this.access.require(principal, shardId, 'write');
    // From a socket of this instance: the store also tells whether any other instance has a
    // socket in the shard; when none has, the broadcast stays on this instance.
    // The author is noted for the next checkpoint in the same step.
    const { version, othersPresent } = await this.editGate.admit(shardId, fileId, update, {
      fromInstance: exceptSocketId === undefined ? undefined : this.deps.cache.members.instanceId,
      author: this.deps.cache.authors.noteOf({ userId: principal.userId, name: principal.name }),
      sender: exceptSocketId,
    });
    this.deps.faults?.afterStore('edit');
    this.deps.events.fileEdited(shardId, fileId, update, version, exceptSocketId, !othersPresent);
    this.deps.onEdit?.((performance.now() - started) / 1000);
    return version;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Notes who changed the shard, for its next checkpoint; off the edit's path (not awaited). */
  private noteAuthor(principal: Principal, shardId: ShardId): void {
    this.deps.cache.authors
      .note(shardId, { userId: principal.userId, name: principal.name })
      .catch((error: unknown) => this.deps.logger.debug({ err: error, shardId }, 'could not note an author'));
  }

  private checkFileSize(content: string): void {
    if (Buffer.byteLength(content, 'utf8') > this.deps.limits.maxFileBytes) {
      throw new AppError(ErrorCode.FILE_TOO_LARGE, `a file may hold at most ${this.deps.limits.maxFileBytes} bytes`);
    }
  }
}
