import { ErrorCode, type ErrorBody } from '@tandem/protocol';

/** The one error type of the server: a stable code, a message that says what to fix, optional details. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** The body sent to clients: never includes the cause or a stack. */
  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Normalises anything thrown into an AppError; unknown failures become INTERNAL with the original as cause. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError(ErrorCode.INTERNAL, 'internal server error', { cause: error });
}

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  PATH_INVALID: 400,
  UPDATE_MALFORMED: 400,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  READ_ONLY: 403,
  NOT_JOINED: 409,
  SHARD_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  TEMPLATE_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  NOT_FOUND: 404,
  FILE_EXISTS: 409,
  FILE_KIND_MISMATCH: 409,
  ARCHIVE_INVALID: 400,
  PAYLOAD_TOO_LARGE: 413,
  FILE_TOO_LARGE: 413,
  TOO_MANY_FILES: 409,
  RATE_LIMITED: 429,
  SHARD_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** The HTTP status for an error code: the one table that maps them. */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}

/** Exhaustiveness check for discriminated unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
