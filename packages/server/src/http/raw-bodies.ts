import type { FastifyInstance, FastifyReply } from 'fastify';
import mime from 'mime-types';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';

/**
 * Request bodies other than JSON: `text/*` and every other content type are read as raw bytes
 * (a Buffer), within the route's body limit. Routes that take none still refuse them (their body
 * schema does not match a Buffer). Registered once per Fastify instance.
 */
export function registerRawBodies(app: FastifyInstance): void {
  if (app.hasContentTypeParser('*')) return;
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

/**
 * How a file upload's body is read, by its content type: `json` (`{ "content": "…" }`, a text
 * file), `text` (`text/*`: the body is the file's UTF-8 text), `form` (a browser form's encoding:
 * refused) or `binary` (anything else: the bytes of a binary file, such as `image/png`,
 * `font/woff2` or `application/octet-stream`).
 */
export function bodyKind(contentType: string | undefined): 'json' | 'text' | 'binary' | 'form' {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type === '') return 'json';
  if (type.startsWith('text/')) return 'text';
  // A browser form's encodings are never a file's bytes: refused, not stored as a binary file.
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') return 'form';
  return 'binary';
}

/** A raw body as bytes; VALIDATION_FAILED when there is none. */
export function bytesOf(body: unknown, what: string): Uint8Array {
  if (!Buffer.isBuffer(body)) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, `the request body must be ${what} (raw bytes, not JSON)`);
  }
  return body;
}

/** A `text/*` body as text; VALIDATION_FAILED when it is not UTF-8. */
export function textOf(body: unknown): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytesOf(body, 'UTF-8 text'));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      'a text/* body must be UTF-8 text; upload other bytes with a binary content type (application/octet-stream)',
      { cause: error },
    );
  }
}

/**
 * Sends a binary file's bytes with the content type its name implies (application/octet-stream
 * when none). The bytes are whatever a user uploaded, so the response may run nothing: a CSP
 * sandbox keeps an SVG's scripts (or an HTML page uploaded as bytes) from running on this origin.
 */
export function sendBinaryFile(reply: FastifyReply, path: string, bytes: Uint8Array): FastifyReply {
  const type = mime.lookup(path);
  return reply
    .type(type === false ? 'application/octet-stream' : type)
    .header('x-tandem-file-kind', 'binary')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
