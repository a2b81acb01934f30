import { ErrorCode, isErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';

/**
 * The one error convention of the Lua scripts: a script refuses with
 * `redis.error_reply('<CODE>')`, where CODE is one of our ErrorCode values, NOT_LOADED (the
 * shard is not in Redis: reload it), NOT_INDEXED (the shard has no path index: rebuild it) or
 * BACKLOG (the shard's unsynced bytes would pass MAX_SHARD_UNSYNCED_BYTES); every other outcome
 * is a reply. The internal codes never reach a client as they are.
 */
export function scriptErrorCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const m = /^(?:ERR )?([A-Z_]+)$/.exec(error.message.trim());
  return m?.[1] ?? null;
}

/** `details.reason` of the SHARD_UNAVAILABLE refusal of a write that would pass the shard's backlog bound. */
export const BACKLOG_REASON = 'backlog';

const MESSAGES: Partial<Record<string, string>> = {
  FILE_NOT_FOUND: 'no file with this id or path in the shard',
  FILE_KIND_MISMATCH:
    'the file is binary (an image, a font…): it has no text to edit; upload its bytes with PUT /shards/:id/files/<path> instead',
  FILE_TOO_LARGE: 'the file would exceed the maximum file size',
  TOO_MANY_FILES: 'the shard already holds the maximum number of files',
  FILE_EXISTS: 'a file or folder already exists at that path (names are compared ignoring case)',
  PATH_INVALID: 'a folder cannot be moved into itself',
};

/** A script's error as the AppError a client gets; anything else (Redis down, ...) unchanged. */
export function mapScriptError(error: unknown, shardId: ShardId): unknown {
  const code = scriptErrorCode(error);
  if (code === 'NOT_LOADED') {
    return new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard is not loaded; retry', { details: { shardId } });
  }
  if (code === 'BACKLOG') {
    return new AppError(
      ErrorCode.SHARD_UNAVAILABLE,
      'the shard holds too many unsaved changes (MAX_SHARD_UNSYNCED_BYTES); they are being saved now, retry shortly',
      { details: { shardId, reason: BACKLOG_REASON } },
    );
  }
  if (code !== null && isErrorCode(code)) {
    return new AppError(code, MESSAGES[code] ?? code, { details: { shardId } });
  }
  return error;
}

/** True for the refusal of a write that would take its shard past MAX_SHARD_UNSYNCED_BYTES: sync the shard. */
export function isBacklogRefusal(error: unknown): boolean {
  return (
    error instanceof AppError &&
    error.code === ErrorCode.SHARD_UNAVAILABLE &&
    error.details?.['reason'] === BACKLOG_REASON
  );
}
