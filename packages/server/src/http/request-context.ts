import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ErrorCode, isShardId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Principal } from '../auth/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /**
     * The route answers without a token. Every other route requires one: the auth hook reads this
     * flag of the route the router chose (after it decoded the URL), never the raw URL.
     */
    public?: boolean;
  }
}

/** Route options of a route anyone may call. */
export const PUBLIC_ROUTE = { config: { public: true } } as const;

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Who is calling, as the auth hook verified it; UNAUTHENTICATED on a route that has no caller. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new AppError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required');
  return request.principal;
}

/** The `:id` route parameter as a shard id; SHARD_NOT_FOUND when it is not one. */
export function shardIdOf(request: FastifyRequest): ShardId {
  const { id } = request.params as { id: string };
  if (!isShardId(id)) throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id (ids are UUIDs)');
  return id;
}

/** What the route's `*` matched (a file path, not yet canonical). */
export function wildcard(request: FastifyRequest): string {
  return (request.params as Record<string, string>)['*'] ?? '';
}

/** Parses a request body; VALIDATION_FAILED listing every problem when it does not fit. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `invalid request body: ${issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ')}`,
      { details: { issues } },
    );
  }
  return result.data;
}

/** Parses a query string object; VALIDATION_FAILED listing every problem when it does not fit. */
export function parseQuery<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `invalid query: ${issues.map((i) => `${i.path || '(query)'}: ${i.message}`).join('; ')}`,
      { details: { issues } },
    );
  }
  return result.data;
}
