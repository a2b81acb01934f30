import * as Y from 'yjs';
import {
  ErrorCode,
  type FileEntry,
  type FileId,
  type FileSyncResult,
  type ShardDetail,
  type ShardId,
  type ShardSummary,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import { toShardSummary, type IShardRepository, type Shard, type StoredFile } from '../persistence/index.js';
import { mergeUpdatesBalanced, textFromUpdates, type ShardCache } from '../shard-cache/index.js';
import { sortByPath } from './canonical-path.js';
import type { RawDiffSide } from './history-thread.js';
import type { ZipSourceFile } from './zip-stream.js';

/** One file as read: a text file's text, or a binary file's bytes. */
export type FileRead = { file: FileEntry; content: string } | { file: FileEntry; bytes: Uint8Array };
/** One file's current text (a text file) or bytes (a binary file), with its id. */
export type ShardText =
  | { id: FileId; path: string; kind: 'text'; content: string }
  | { id: FileId; path: string; kind: 'binary'; bytes: Uint8Array };

export type ShardReaderDeps = {
  repository: IShardRepository;
  cache: ShardCache;
  limits: Config['limits'];
};

/**
 * Reads a shard as it is now: from the Redis cache when the shard is open there (the live tree
 * and text), else from the database. Access is checked by the caller.
 */
export class ShardReader {
  constructor(private readonly deps: ShardReaderDeps) {}

  /** The shard and its file tree: from the cache when open (the live tree), else the database. */
  async detail(shardId: ShardId): Promise<ShardDetail> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const files = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId)) return { ...cached, files };
    }
    const shard = await this.find(shardId);
    return { ...toShardSummary(shard), files: sortByPath(shard.files.map(entryOf)) };
  }

  /** One file's entry and text (or bytes, for a binary file), by canonical path. */
  async file(shardId: ShardId, path: string): Promise<FileRead> {
    if (await this.deps.cache.loader.isLoaded(shardId)) {
      const file = (await this.deps.cache.files.tree(shardId)).find((f) => f.path === path);
      if (file !== undefined) {
        if (file.kind === 'binary') {
          const bytes = await this.deps.cache.files.blob(shardId, file.id);
          if (bytes !== null) return { file, bytes };
        } else {
          const updates = await this.deps.cache.files.updates(shardId, file.id);
          if (updates.length > 0) return { file, content: textFromUpdates(updates) };
        }
      } else if (await this.deps.cache.loader.isLoaded(shardId)) {
        throw fileNotFound(path);
      }
    }
    const shard = await this.find(shardId);
    const stored = shard.files.find((f) => f.path === path);
    if (stored === undefined) throw fileNotFound(path);
    return stored.kind === 'binary'
      ? { file: entryOf(stored), bytes: stored.ydocState }
      : { file: entryOf(stored), content: stored.content };
  }

  /**
   * The text of every file, one file at a time: from the cache when the shard is open (the tree
   * once, then each file's updates), else from one read of the stored shard. A file whose updates
   * are gone was evicted while we read, which happens only after a flush: it is read from the
   * database (once for the whole archive). A stored shard over ZIP_MAX_BYTES is refused here; an
   * open one's size is only known file by file (zipStream cuts it short).
   */
  async contents(shardId: ShardId): Promise<{ name: string; files: AsyncIterable<ZipSourceFile> }> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const tree = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId))
        return { name: cached.name, files: this.cachedContents(shardId, tree) };
    }
    const shard = await this.find(shardId);
    const bytes = shard.files.reduce(
      (sum, f) => sum + (f.kind === 'binary' ? f.ydocState.byteLength : Buffer.byteLength(f.content, 'utf8')),
      0,
    );
    if (bytes > this.deps.limits.zipMaxBytes) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the shard's files hold ${bytes} bytes, more than ZIP_MAX_BYTES (${this.deps.limits.zipMaxBytes}); download the files one by one`,
      );
    }
    return { name: shard.name, files: toAsync(shard.files.map(zipSourceOf)) };
  }

  /**
   * The shard's description and the current text (or bytes) of every file with its id, one file at a time:
   * the live state when the shard is open (unsynced edits included), else the database. What
   * fork and search read.
   */
  async texts(shardId: ShardId): Promise<{ shard: ShardSummary; files: AsyncIterable<ShardText> }> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const tree = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId))
        return { shard: cached, files: this.cachedTexts(shardId, tree) };
    }
    const shard = await this.find(shardId);
    return {
      shard: toShardSummary(shard),
      files: toAsync(shard.files.map(shardTextOf)),
    };
  }

  /**
   * Every file with its id as it is now, undecoded (a text file's Yjs updates or stored text, a
   * binary file's bytes): the live tree and updates when the shard is open (unsynced edits
   * included), else the stored shard. What history diffs compare a checkpoint with, in a thread.
   */
  async currentFiles(shardId: ShardId): Promise<RawDiffSide[]> {
    const cached = await this.deps.cache.loader.meta(shardId);
    if (cached !== null) {
      const tree = await this.deps.cache.files.tree(shardId);
      // Re-check: an eviction between the two reads would show an empty tree.
      if (await this.deps.cache.loader.isLoaded(shardId)) return this.cachedRaw(shardId, tree);
    }
    return (await this.find(shardId)).files.map(rawOf);
  }

  private async cachedRaw(shardId: ShardId, tree: readonly FileEntry[]): Promise<RawDiffSide[]> {
    let stored: Map<FileId, StoredFile> | undefined;
    const sides: RawDiffSide[] = [];
    for (const file of tree) {
      if (file.kind === 'binary') {
        const bytes = await this.deps.cache.files.blob(shardId, file.id);
        if (bytes !== null) {
          sides.push({ id: file.id, path: file.path, kind: 'binary', bytes });
          continue;
        }
      } else {
        const updates = await this.deps.cache.files.updates(shardId, file.id);
        if (updates.length > 0) {
          sides.push({ id: file.id, path: file.path, kind: 'updates', updates });
          continue;
        }
      }
      // Evicted while we read (only after a flush): the database holds the text or bytes.
      stored ??= new Map((await this.find(shardId)).files.map((f) => [f.id, f]));
      const found = stored.get(file.id);
      if (found !== undefined) sides.push({ ...rawOf(found), path: file.path });
    }
    return sides;
  }

  /** Yjs sync step 1 → step 2: what the client lacks, plus the server's state vector. */
  async sync(shardId: ShardId, fileId: FileId, stateVector: Uint8Array): Promise<FileSyncResult> {
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

  private async fileForSync(shardId: ShardId, fileId: FileId): Promise<{ updates: Uint8Array[]; version: number }> {
    let read = await this.deps.cache.files.readForSync(shardId, fileId);
    if (!read.inTree && !read.loaded) {
      await this.deps.cache.loader.ensureLoaded(shardId);
      read = await this.deps.cache.files.readForSync(shardId, fileId);
    }
    if (!read.inTree) {
      throw new AppError(ErrorCode.FILE_NOT_FOUND, 'no file with this id in the shard', { details: { fileId } });
    }
    if (read.binary) {
      throw new AppError(
        ErrorCode.FILE_KIND_MISMATCH,
        'the file is binary (an image, a font…): it has no Yjs document; read its bytes with GET /shards/:id/files/<path>',
        { details: { fileId } },
      );
    }
    return read;
  }

  private async *cachedTexts(shardId: ShardId, tree: readonly FileEntry[]): AsyncGenerator<ShardText> {
    let stored: Map<FileId, StoredFile> | undefined;
    for (const file of tree) {
      if (file.kind === 'binary') {
        const bytes = await this.deps.cache.files.blob(shardId, file.id);
        if (bytes !== null) {
          yield { id: file.id, path: file.path, kind: 'binary', bytes };
          continue;
        }
      } else {
        const updates = await this.deps.cache.files.updates(shardId, file.id);
        if (updates.length > 0) {
          yield { id: file.id, path: file.path, kind: 'text', content: textFromUpdates(updates) };
          continue;
        }
      }
      // Evicted while we read (only after a flush): the database holds the text or bytes.
      stored ??= new Map((await this.find(shardId)).files.map((f) => [f.id, f]));
      const found = stored.get(file.id);
      if (found !== undefined) yield { ...shardTextOf(found), path: file.path };
    }
  }

  private async *cachedContents(shardId: ShardId, tree: readonly FileEntry[]): AsyncGenerator<ZipSourceFile> {
    let stored: Map<FileId, StoredFile> | undefined;
    for (const file of tree) {
      if (file.kind === 'binary') {
        const bytes = await this.deps.cache.files.blob(shardId, file.id);
        if (bytes !== null) {
          yield { path: file.path, content: bytes };
          continue;
        }
      } else {
        const updates = await this.deps.cache.files.updates(shardId, file.id);
        if (updates.length > 0) {
          yield { path: file.path, content: textFromUpdates(updates) };
          continue;
        }
      }
      stored ??= new Map((await this.find(shardId)).files.map((f) => [f.id, f]));
      const found = stored.get(file.id);
      if (found !== undefined) yield { ...zipSourceOf(found), path: file.path };
    }
  }

  /** The stored shard: SHARD_NOT_FOUND when there is none, SHARD_UNAVAILABLE when the database is down. */
  private async find(shardId: ShardId): Promise<Shard> {
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

function entryOf(file: StoredFile): FileEntry {
  return file.kind === 'binary' ? { id: file.id, path: file.path, kind: 'binary' } : { id: file.id, path: file.path };
}

/** A stored file's tree entry (binary files say so). */
export function entryOfStored(file: StoredFile): FileEntry {
  return file.kind === 'binary' ? { id: file.id, path: file.path, kind: 'binary' } : { id: file.id, path: file.path };
}

function shardTextOf(file: StoredFile): ShardText {
  return file.kind === 'binary'
    ? { id: file.id, path: file.path, kind: 'binary', bytes: file.ydocState }
    : { id: file.id, path: file.path, kind: 'text', content: file.content };
}

function zipSourceOf(file: StoredFile): ZipSourceFile {
  return { path: file.path, content: file.kind === 'binary' ? file.ydocState : file.content };
}

function fileNotFound(path: string): AppError {
  return new AppError(ErrorCode.FILE_NOT_FOUND, `no file at "${path}"`, { details: { path } });
}

function rawOf(file: StoredFile): RawDiffSide {
  return file.kind === 'binary'
    ? { id: file.id, path: file.path, kind: 'binary', bytes: file.ydocState }
    : { id: file.id, path: file.path, kind: 'text', content: file.content };
}
