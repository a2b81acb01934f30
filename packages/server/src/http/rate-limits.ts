import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import { restRateLimitPrefix } from '../redis/index.js';

/** Where the REST rate-limit counters live (shared by every instance), and their key prefix. */
export type RateLimitStore = { redis: Redis | Cluster; keyPrefix: string };

/**
 * REST rate limits per user, counted in Redis so they hold across instances: every API route
 * shares one budget of RATE_REST_PER_MINUTE per user (the client address without a token), and
 * creating shards and minting share links have their own hourly caps on top (see `perUserHourly`).
 * Runs as a preHandler, after authentication, so it counts by token `sub`. Admin tokens (the host
 * application's backend) and the non-API routes (health, metrics, the editor's files) are exempt.
 * If Redis cannot be reached the request is let through: the socket path is down then anyway.
 */
export async function registerRateLimit(
  app: FastifyInstance,
  limits: Config['limits'],
  store: RateLimitStore,
): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: limits.restRequestsPerMinute,
    timeWindow: 60_000,
    redis: store.redis,
    nameSpace: restRateLimitPrefix(store.keyPrefix),
    skipOnError: true,
    keyGenerator: rateLimitKey,
    allowList: (request) => isExempt(request),
    errorResponseBuilder: (_request, context) =>
      new AppError(ErrorCode.RATE_LIMITED, `too many requests; retry in ${context.after}`, {
        details: { limit: context.max, retryAfterMs: context.ttl },
      }),
  });
}

function rateLimitKey(request: FastifyRequest): string {
  return request.principal === undefined ? `ip:${request.ip}` : `user:${request.principal.userId}`;
}

function isExempt(request: FastifyRequest): boolean {
  return request.principal?.role === 'admin' || request.routeOptions.config.public === true;
}

/**
 * A preHandler that allows each user `max` calls of one kind per hour (on top of the global REST
 * limit), counted in the same Redis store under its own key. Only after registerRateLimit.
 */
export function perUserHourly(app: FastifyInstance, kind: string, max: number) {
  return app.rateLimit({
    max,
    timeWindow: 3_600_000,
    keyGenerator: (request) => `${kind}:${rateLimitKey(request)}`,
    allowList: (request) => isExempt(request),
    errorResponseBuilder: (_request, context) =>
      new AppError(ErrorCode.RATE_LIMITED, `at most ${context.max} ${kind} per hour; retry in ${context.after}`, {
        details: { limit: context.max, retryAfterMs: context.ttl },
      }),
  });
}

/**
 * Zip downloads a user may run at once on this instance: `acquire` throws RATE_LIMITED past the
 * cap and returns the release function (idempotent).
 */
export function createZipSlots(maxPerUser: number): { acquire(userId: string): () => void } {
  const running = new Map<string, number>();
  return {
    acquire(userId) {
      const held = running.get(userId) ?? 0;
      if (held >= maxPerUser) {
        throw new AppError(
          ErrorCode.RATE_LIMITED,
          `at most ${maxPerUser} zip downloads at once per user; wait for one to finish`,
        );
      }
      running.set(userId, held + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (running.get(userId) ?? 1) - 1;
        if (left <= 0) running.delete(userId);
        else running.set(userId, left);
      };
    },
  };
}
