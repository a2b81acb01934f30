declare const brand: unique symbol;

/** A nominal type: a string that has been checked to be a certain kind of id. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** The id of a shard (one project workspace): a UUID. */
export type ShardId = Brand<string, 'ShardId'>;
/** The id of a file inside a shard: stable across renames. */
export type FileId = Brand<string, 'FileId'>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FILE_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

/** True when `value` has the shape of a shard id (a lowercase UUID). */
export function isShardId(value: unknown): value is ShardId {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** True when `value` has the shape of a file id (8 to 64 url-safe characters). */
export function isFileId(value: unknown): value is FileId {
  return typeof value === 'string' && FILE_ID_RE.test(value);
}
