import { z } from 'zod';
import { isFileId, isShardId, type FileId, type ShardId } from './ids.js';

/**
 * zod schemas for every client → server payload and REST body. The server parses every
 * untrusted value with these; the client SDK can use them to fail early.
 */

const shardId = z.custom<ShardId>(isShardId, 'must be a shard id (a lowercase UUID)');
const fileId = z.custom<FileId>(isFileId, 'must be a file id (8 to 64 characters of A-Z a-z 0-9 _ -)');
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be binary (Uint8Array / Buffer)');
/**
 * A client-chosen idempotency key for a tree operation (8 to 64 url-safe characters). The server
 * remembers the outcome of each operation id for a while: the same id sent again (a retry after a
 * lost ack, a replay after reconnecting) returns the first outcome instead of applying it twice.
 */
const opId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8 to 64 characters of A-Z a-z 0-9 _ -');

export const JoinPayload = z.strictObject({ shardId });
export const LeavePayload = z.strictObject({ shardId });
export const FileSyncPayload = z.strictObject({ shardId, fileId, stateVector: bytes });
export const FileEditPayload = z.strictObject({ shardId, fileId, update: bytes });
export const FileCreatePayload = z.strictObject({
  shardId,
  path: z.string(),
  content: z.string().optional(),
  /**
   * The id the new file gets, chosen by the client (a file created offline is opened and typed
   * into before the server knows it). Refused with FILE_EXISTS when the shard has or had a file
   * with this id. Default: the server picks one.
   */
  fileId: fileId.optional(),
  opId: opId.optional(),
});
export const FileRenamePayload = z.strictObject({ shardId, from: z.string(), to: z.string(), opId: opId.optional() });
export const FileDeletePayload = z.strictObject({ shardId, path: z.string(), opId: opId.optional() });
export const PresenceUpdatePayload = z.strictObject({ shardId, update: bytes });

export const CreateShardBody = z.strictObject({
  templateId: z.string().min(1).max(64),
  name: z.string().trim().min(1).max(200),
});
export const WriteFileBody = z.strictObject({ content: z.string() });
/** `PATCH /shards/:id`: a new name. */
export const RenameShardBody = z.strictObject({ name: z.string().trim().min(1).max(200) });
/** `POST /shards/:id/fork`: the new shard's name (default: the source's name with " (fork)"). */
export const ForkShardBody = z.strictObject({ name: z.string().trim().min(1).max(200).optional() });
/** Most shards one page of `GET /shards` holds. */
export const MAX_SHARD_PAGE_SIZE = 100;
/** `GET /shards` query: page size (default 20) and the cursor of the previous page. */
export const ListShardsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_SHARD_PAGE_SIZE).optional(),
  cursor: z.string().min(1).max(200).optional(),
});
/** Most matches one search returns. */
export const MAX_SEARCH_RESULTS = 1000;
/** `GET /shards/:id/search` query: the text to find (plain text, not a pattern), case sensitivity, result limit (default 200). */
export const SearchQuery = z.strictObject({
  q: z.string().min(1).max(200),
  caseSensitive: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_SEARCH_RESULTS).optional(),
});

export type JoinPayload = z.infer<typeof JoinPayload>;
export type LeavePayload = z.infer<typeof LeavePayload>;
export type FileSyncPayload = z.infer<typeof FileSyncPayload>;
export type FileEditPayload = z.infer<typeof FileEditPayload>;
export type FileCreatePayload = z.infer<typeof FileCreatePayload>;
export type FileRenamePayload = z.infer<typeof FileRenamePayload>;
export type FileDeletePayload = z.infer<typeof FileDeletePayload>;
export type PresenceUpdatePayload = z.infer<typeof PresenceUpdatePayload>;
export type CreateShardBody = z.infer<typeof CreateShardBody>;
export type WriteFileBody = z.infer<typeof WriteFileBody>;
export type RenameShardBody = z.infer<typeof RenameShardBody>;
export type ForkShardBody = z.infer<typeof ForkShardBody>;
export type ListShardsQuery = z.infer<typeof ListShardsQuery>;
export type SearchQuery = z.infer<typeof SearchQuery>;
