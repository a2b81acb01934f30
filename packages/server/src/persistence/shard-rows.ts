import { comparePaths, ErrorCode, type DependencyMap, type FileId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Selectable } from 'kysely';
import type { DbTime, ShardFilesTable, ShardsTable } from './migrations.js';
import type { Shard, ShardMeta, StoredFile, SyncBatch, TreeWrite } from './shard-repository.js';

/**
 * Rows ↔ domain objects for the Kysely store: mapping, validation of what is written, and the
 * batching of multi-row statements. Pure functions; no queries.
 */

/** Rows per multi-row statement: far below both databases' bind-parameter limits (7 per file row). */
const MAX_ROWS_PER_STATEMENT = 100;
/**
 * Text and Yjs state per multi-row statement, so a batch of large files never becomes one huge
 * message: the driver serializes a statement's parameters in one go on the calling thread (pg
 * grows its message buffer by copying), which blocked the event loop for 24 ms per 2 MB statement
 * on a quiet machine and for over 100 ms on a loaded one (history-event-loop.test.ts). A larger
 * file still goes alone.
 */
const MAX_BYTES_PER_STATEMENT = 512 * 1024;

export type FileInput = Omit<StoredFile, 'updatedAt'>;

/**
 * One entry per file id: the highest version, the later entry on ties. That is the state
 * applying the entries one by one would leave, and a single INSERT … ON CONFLICT may not
 * touch one row twice (PostgreSQL rejects it).
 */
export function latestPerFile(files: readonly FileInput[]): FileInput[] {
  const byId = new Map<FileId, FileInput>();
  for (const file of files) {
    const seen = byId.get(file.id);
    if (seen === undefined || seen.version <= file.version) byId.set(file.id, file);
  }
  return [...byId.values()];
}

export function chunkFiles<T extends { content: string; ydocState: Uint8Array }>(files: readonly T[]): Generator<T[]> {
  return chunkBySize(files, (file) => Buffer.byteLength(file.content, 'utf8') + file.ydocState.byteLength);
}

/** Rows for multi-row statements: at most MAX_ROWS_PER_STATEMENT and MAX_BYTES_PER_STATEMENT (by `sizeOf`) each. */
export function* chunkBySize<T>(rows: readonly T[], sizeOf: (row: T) => number): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = sizeOf(row);
    if (chunk.length > 0 && (chunk.length >= MAX_ROWS_PER_STATEMENT || bytes + size > MAX_BYTES_PER_STATEMENT)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

export function* chunkRows<T>(rows: readonly T[]): Generator<T[]> {
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_STATEMENT) {
    yield rows.slice(start, start + MAX_ROWS_PER_STATEMENT);
  }
}

export function toShardMeta(row: Selectable<ShardsTable>): ShardMeta {
  return {
    id: row.id as ShardId,
    name: row.name,
    ownerId: row.owner_id ?? null,
    templateId: row.template_id,
    templateRevision: row.template_revision,
    dependencies: parseDependencyMap(row.dependencies, row.id, 'dependencies'),
    devDependencies: parseDependencyMap(row.dev_dependencies, row.id, 'dev_dependencies'),
    createdAt: fromDbTime(row.created_at),
    updatedAt: fromDbTime(row.updated_at),
    lastSyncTimestamp: row.last_sync_timestamp,
  };
}

export function toStoredFile(row: ShardFilesTable): StoredFile {
  return {
    id: row.file_id as FileId,
    path: row.path,
    content: row.content,
    ydocState: row.ydoc_state,
    ...(row.kind === 'binary' ? { kind: 'binary' as const } : {}),
    version: row.version,
    updatedAt: fromDbTime(row.updated_at),
  };
}

function fromDbTime(value: DbTime): Date {
  return value instanceof Date ? value : new Date(value);
}

/** Code-unit order, the same on both databases (their collations differ). */
export function byPath(a: StoredFile, b: StoredFile): number {
  return comparePaths(a.path, b.path);
}

function parseDependencyMap(text: string, shardId: string, column: string): DependencyMap {
  const value: unknown = JSON.parse(text);
  if (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  ) {
    return value as DependencyMap;
  }
  throw new AppError(
    ErrorCode.INTERNAL,
    `shards.${column} of shard ${shardId} is not a JSON object of version strings; repair the row`,
  );
}

function assertClockValue(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, `${what} must be a non-negative safe integer, got ${value}`);
  }
}

export function assertSyncBatch(batch: SyncBatch): void {
  assertClockValue(batch.lastSyncTimestamp, `lastSyncTimestamp of the sync batch for shard ${batch.shardId}`);
  for (const file of batch.upserts) assertClockValue(file.version, `version of upserted file ${file.id}`);
  for (const file of batch.deletes) assertClockValue(file.version, `version of deleted file ${file.id}`);
}

export function assertTreeWrite(write: TreeWrite): void {
  assertClockValue(write.version, `version of the tree written for shard ${write.shardId}`);
  const ids = new Set<string>();
  const paths = new Set<string>();
  for (const file of write.files) {
    if (ids.has(file.id) || paths.has(file.path)) {
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `the tree written for shard ${write.shardId} lists file id ${file.id} or path ${file.path} twice`,
      );
    }
    ids.add(file.id);
    paths.add(file.path);
  }
}

export function assertShard(shard: Shard): void {
  assertClockValue(shard.lastSyncTimestamp, `lastSyncTimestamp of shard ${shard.id}`);
  const ids = new Set<string>();
  const paths = new Set<string>();
  for (const file of shard.files) {
    assertClockValue(file.version, `version of file ${file.id}`);
    if (ids.has(file.id)) {
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `shard ${shard.id} lists file id ${file.id} twice; ids are unique`,
      );
    }
    if (paths.has(file.path)) {
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `shard ${shard.id} lists path ${file.path} twice; paths are unique`,
      );
    }
    ids.add(file.id);
    paths.add(file.path);
  }
}
