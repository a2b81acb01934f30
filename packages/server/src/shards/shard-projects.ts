import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  isShardId,
  type FileId,
  type SearchResult,
  type ShardDetail,
  type ShardId,
  type ShardPage,
  type ShardSummary,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { Principal } from '../auth/index.js';
import {
  toShardSummary,
  type IShardRepository,
  type Shard,
  type ShardListCursor,
  type ShardListFilter,
  type StoredFile,
} from '../persistence/index.js';
import { newFileId, stateFromText, type ShardCache } from '../shard-cache/index.js';
import { packageJsonDependencies } from '../templates/index.js';
import { sortByPath } from './canonical-path.js';
import { storeNewShard } from './new-shard.js';
import type { ShardAccess } from './shard-access.js';
import { entryOfStored, type ShardReader, type ShardText } from './shard-reader.js';
import { searchFiles, type SearchOptions } from './text-search.js';

/** Shards per page of GET /shards when the caller does not say. */
const DEFAULT_PAGE_SIZE = 20;
/** Longest shard name (the same bound as CreateShardBody's). */
const MAX_NAME_LENGTH = 200;

export type ShardProjectsDeps = {
  repository: IShardRepository;
  cache: ShardCache;
  logger: Logger;
  limits: Config['limits'];
  access: ShardAccess;
  reader: ShardReader;
  events: {
    deleted(shardId: ShardId): void;
    renamed(shardId: ShardId, name: string): void;
  };
};

/**
 * Shards as projects their users manage: listing the ones a caller may read, renaming, deleting
 * (rows, cache and room), forking the live state, and searching it.
 */
export class ShardProjects {
  constructor(private readonly deps: ShardProjectsDeps) {}

  /**
   * The shards the principal may read: every shard for admins and for a `shards` claim of `*`,
   * else the ones they own plus those their `shards` claim names. Most recently updated first (live
   * changes count: ShardActivity writes their time before any sync);
   * `cursor` is the previous page's `nextCursor`.
   */
  async list(
    principal: Principal,
    page: { limit?: number | undefined; cursor?: string | undefined },
  ): Promise<ShardPage> {
    const limit = page.limit ?? DEFAULT_PAGE_SIZE;
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    // Changes this instance stored but has not reported yet count too (other instances report
    // theirs within a flush interval).
    await this.deps.cache.activity.flush();
    const rows = await this.deps.repository.list(filterFor(principal), { limit: limit + 1, after });
    const shards = rows.slice(0, limit);
    const last = shards.at(-1);
    return {
      shards: shards.map(toShardSummary),
      nextCursor:
        rows.length > limit && last !== undefined ? encodeCursor({ updatedAt: last.updatedAt, id: last.id }) : null,
    };
  }

  async rename(principal: Principal, shardId: ShardId, name: string): Promise<ShardSummary> {
    await this.deps.access.require(principal, shardId, 'write');
    const meta = await this.deps.repository.rename(shardId, name);
    if (meta === null) throw shardNotFound(shardId);
    await this.deps.cache.loader.rename(shardId, meta.name, meta.updatedAt);
    this.deps.events.renamed(shardId, meta.name);
    this.deps.logger.info({ shardId, userId: principal.userId }, 'shard renamed');
    return toShardSummary(meta);
  }

  /**
   * Deletes the shard: its rows and every Redis key go under the populate lock (ShardLoader.purge,
   * which also keeps a concurrent load or sync from bringing it back), then everyone in it is told
   * (`shard:deleted`) and taken out of its room, on every instance.
   */
  async delete(principal: Principal, shardId: ShardId): Promise<void> {
    await this.deps.access.requireOwner(principal, shardId);
    const existed = await this.deps.cache.loader.purge(shardId, () => this.deps.repository.delete(shardId));
    if (!existed) throw shardNotFound(shardId);
    this.deps.events.deleted(shardId);
    this.deps.logger.info({ shardId, userId: principal.userId }, 'shard deleted');
  }

  /**
   * A new shard, owned by the caller, holding the text (or bytes) every file of the source has now (edits
   * not yet synced included: they are read from the live state). Read access to the source and
   * the right to create shards suffice. The dependency maps come from the copied package.json
   * when it parses, else from the source's row. The source's version history is not copied: the
   * fork's first checkpoint is its state at the fork.
   */
  async fork(principal: Principal, shardId: ShardId, name?: string): Promise<ShardDetail> {
    await this.deps.access.require(principal, shardId, 'read');
    if (!principal.canCreate) {
      throw new AppError(ErrorCode.FORBIDDEN, 'your token does not allow creating shards, so it cannot fork one');
    }
    const source = await this.deps.reader.texts(shardId);
    const now = new Date();
    const files: StoredFile[] = [];
    let packageJson: string | undefined;
    for await (const file of source.files) {
      if (files.length >= this.deps.limits.maxFilesPerShard) {
        throw new AppError(
          ErrorCode.TOO_MANY_FILES,
          `the shard has more files than MAX_FILES_PER_SHARD (${this.deps.limits.maxFilesPerShard})`,
        );
      }
      if (file.kind === 'binary') {
        files.push({
          id: newFileId(),
          path: file.path,
          content: '',
          ydocState: Buffer.from(file.bytes),
          kind: 'binary',
          version: 0,
          updatedAt: now,
        });
        continue;
      }
      if (file.path === 'package.json') packageJson = file.content;
      files.push({
        id: newFileId(),
        path: file.path,
        content: file.content,
        ydocState: stateFromText(file.content),
        version: 0,
        updatedAt: now,
      });
    }
    const dependencies = (packageJson === undefined ? null : packageJsonDependencies(packageJson)) ?? {
      dependencies: source.shard.dependencies,
      devDependencies: source.shard.devDependencies,
    };
    const shard: Shard = {
      id: randomUUID() as ShardId,
      name: name ?? `${source.shard.name} (fork)`.slice(0, MAX_NAME_LENGTH),
      ownerId: principal.userId,
      templateId: source.shard.templateId,
      templateRevision: source.shard.templateRevision,
      dependencies: { ...dependencies.dependencies },
      devDependencies: { ...dependencies.devDependencies },
      createdAt: now,
      updatedAt: now,
      lastSyncTimestamp: 0,
      files,
    };
    await storeNewShard({ repository: this.deps.repository, access: this.deps.access }, shard, principal);
    this.deps.logger.info({ shardId: shard.id, forkedFrom: shardId, userId: principal.userId }, 'shard forked');
    return { ...toShardSummary(shard), files: sortByPath(files.map(entryOfStored)) };
  }

  async search(principal: Principal, shardId: ShardId, options: SearchOptions): Promise<SearchResult> {
    await this.deps.access.require(principal, shardId, 'read');
    const { files } = await this.deps.reader.texts(shardId);
    return searchFiles(textFilesOf(files), options);
  }
}

/** The text files only: search skips binary files (images, fonts). */
async function* textFilesOf(
  files: AsyncIterable<ShardText>,
): AsyncGenerator<{ id: FileId; path: string; content: string }> {
  for await (const file of files) if (file.kind === 'text') yield file;
}

/** Which shards a principal's listing holds. */
function filterFor(principal: Principal): ShardListFilter {
  if (principal.role === 'admin' || principal.shards['*'] !== undefined) return { kind: 'all' };
  return { kind: 'visible', ownerId: principal.userId, shardIds: Object.keys(principal.shards).filter(isShardId) };
}

function encodeCursor(cursor: ShardListCursor): string {
  return Buffer.from(JSON.stringify([cursor.updatedAt.getTime(), cursor.id])).toString('base64url');
}

function decodeCursor(text: string): ShardListCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    // Not base64url JSON: reported below as a malformed cursor, like any other shape.
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string' &&
    isShardId(value[1])
  ) {
    return { updatedAt: new Date(value[0] as number), id: value[1] };
  }
  throw new AppError(ErrorCode.VALIDATION_FAILED, 'cursor is not one GET /shards returned; start again without it');
}

function shardNotFound(shardId: ShardId): AppError {
  return new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id', { details: { shardId } });
}
