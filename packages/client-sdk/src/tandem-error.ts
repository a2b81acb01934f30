import type { Ack, ErrorBody, ErrorCode } from '@tandem/protocol';

/** A refusal from the server (or the SDK), with the stable error code to branch on. */
export class TandemError extends Error {
  override readonly name = 'TandemError';
  readonly code: ErrorCode | string;
  readonly details: Record<string, unknown> | undefined;

  constructor(body: ErrorBody | { code: string; message: string; details?: Record<string, unknown> }) {
    super(body.message);
    this.code = body.code;
    this.details = body.details;
  }
}

/** The data of a successful ack, or a thrown TandemError. */
export function unwrap<T>(ack: Ack<T>): T {
  if (ack.ok) return ack.data;
  throw new TandemError(ack.error);
}
