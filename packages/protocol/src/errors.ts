/**
 * Stable error codes shared by the REST API and socket acks. Clients branch on these;
 * a code, once published, keeps its meaning.
 */
export const ErrorCode = {
  /** The request or event payload does not match its schema. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  /** No token, or a token that cannot be verified. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The token was valid once but has expired. */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** The token does not grant access to this shard. */
  FORBIDDEN: 'FORBIDDEN',
  /** The token grants read access only and the operation writes. */
  READ_ONLY: 'READ_ONLY',
  /** No shard with that id exists. */
  SHARD_NOT_FOUND: 'SHARD_NOT_FOUND',
  /** No file at that path or with that id exists in the shard. */
  FILE_NOT_FOUND: 'FILE_NOT_FOUND',
  /** No checkpoint with that seq exists in the shard's history (never recorded, or pruned). */
  CHECKPOINT_NOT_FOUND: 'CHECKPOINT_NOT_FOUND',
  /** No template with that id exists. */
  TEMPLATE_NOT_FOUND: 'TEMPLATE_NOT_FOUND',
  /** A file path is not a canonical relative path inside the shard. */
  PATH_INVALID: 'PATH_INVALID',
  /** A file or folder already exists at the target path (also for case-only twins). */
  FILE_EXISTS: 'FILE_EXISTS',
  /** A request body or event payload is larger than allowed. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A file would grow beyond the maximum file size. */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** The shard already holds the maximum number of files. */
  TOO_MANY_FILES: 'TOO_MANY_FILES',
  /**
   * The operation needs a text file and the file is binary (a Yjs edit or sync of an image), or
   * it uploads bytes over a text file.
   */
  FILE_KIND_MISMATCH: 'FILE_KIND_MISMATCH',
  /** An uploaded archive (`POST /shards/import`) is not a readable zip file. */
  ARCHIVE_INVALID: 'ARCHIVE_INVALID',
  /** A Yjs update or awareness update could not be decoded. */
  UPDATE_MALFORMED: 'UPDATE_MALFORMED',
  /** Too many events or requests in too short a time. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The socket must join the shard before using it. */
  NOT_JOINED: 'NOT_JOINED',
  /** The shard could not be loaded right now (database unavailable); try again. */
  SHARD_UNAVAILABLE: 'SHARD_UNAVAILABLE',
  /** The server is shutting down or not ready; reconnect to another instance. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** No route or event with that name. */
  NOT_FOUND: 'NOT_FOUND',
  /** An unexpected server error; details are in the server log, never in the response. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error half of every socket ack and the body of every HTTP error. */
export type ErrorBody = {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
};

/**
 * Every socket ack has this shape.
 * @example
 * socket.emit('file:edit', payload, (ack) => { if (!ack.ok) console.warn(ack.error.code) })
 */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

/**
 * Refusals that say "not now" rather than "never": the request may succeed if sent again later
 * (after a backoff, a rejoin or a reconnect). Every other code is final for that request.
 */
export const RETRYABLE_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.RATE_LIMITED,
  ErrorCode.SHARD_UNAVAILABLE,
  ErrorCode.UNAVAILABLE,
  ErrorCode.INTERNAL,
  ErrorCode.NOT_JOINED,
]);

/** True when a refusal with this code may succeed if the request is sent again later. */
export function isRetryableError(code: string): boolean {
  return RETRYABLE_ERROR_CODES.has(code as ErrorCode);
}

/** True when `value` is one of the published error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCode, value);
}
