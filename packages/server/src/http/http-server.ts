import helmet from '@fastify/helmet';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Readable } from 'node:stream';
import rateLimit from '@fastify/rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { CreateShardBody, ErrorCode, isShardId, WriteFileBody, type ShardId } from '@tandem/protocol';
import { AppError, httpStatusOf, toAppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { AuthService, Principal, ShareLink } from '../auth/index.js';
import { assertAccess, isOriginAllowed, isSameOrigin } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import type { TemplateRegistry } from '../templates/index.js';
import { buildOpenApi } from './openapi.js';
import { securityHeaders } from './security-headers.js';
import { restRateLimitPrefix } from '../redis/index.js';

export type HttpDeps = {
  config: Config['http'];
  limits: Config['limits'];
  logger: Logger;
  auth: AuthService;
  shards: ShardService;
  templates: TemplateRegistry;
  /** Register the REST API (false for a worker-only process, which serves health and metrics only). */
  apiRoutes?: boolean;
  /** Whether the process is ready to serve (false while starting and shutting down). */
  isReady: () => boolean;
  /** Extra readiness checks (Redis, database); throw when not ready. */
  checkDependencies: () => Promise<void>;
  /** Prometheus text for /metrics, if metrics are enabled. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Registers extra routes (the web editor's static files). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
  /**
   * Disconnects the live sockets of revoked share links, on every instance (the socket server
   * does it through its adapter); the REST routes that revoke links call it.
   */
  disconnectShareLinks?: (linkIds: readonly string[]) => Promise<void>;
  /** Where the REST rate-limit counters live (shared by every instance), and their key prefix. */
  rateLimitStore?: { redis: Redis | Cluster; keyPrefix: string };
};

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
const PUBLIC_ROUTE = { config: { public: true } } as const;

const MoveBody = z.strictObject({ from: z.string(), to: z.string() });
const CreateFileBody = z.strictObject({ path: z.string(), content: z.string().optional() });
const ShareBody = z.strictObject({
  access: z.enum(['read', 'write']),
  // The configured maximum (SHARE_LINK_MAX_TTL_SECONDS) is checked where the link is minted.
  ttlSeconds: z.number().int().min(60).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** Builds the Fastify instance with every REST route, the error handler and auth. Does not listen. */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    // Per-request logs are noise at info level; errors are logged once by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomUUID(),
    // Errors Fastify raises before routing (a malformed percent-escape in the URL) get the API's error body too.
    // Errors Fastify raises before routing (e.g. a malformed percent-escape) get our error shape too.
    frameworkErrors: (error, _request, reply) => {
      const appError = fromFastifyError(error);
      void (reply as FastifyReply).status(httpStatusOf(appError.code)).send({ error: appError.toBody() });
    },
    // A request Node's HTTP parser rejects never reaches Fastify's handlers: answer it in our shape.
    clientErrorHandler: (_error, socket) => {
      if (!socket.writable) return;
      const body = JSON.stringify({ error: { code: ErrorCode.VALIDATION_FAILED, message: 'malformed HTTP request' } });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  });

  app.setErrorHandler((error, request, reply) => {
    const appError = fromFastifyError(error);
    const status = httpStatusOf(appError.code);
    if (status >= 500 && appError.code !== ErrorCode.UNAVAILABLE && appError.code !== ErrorCode.SHARD_UNAVAILABLE) {
      request.log.error({ err: appError.cause ?? error, url: request.url }, 'request failed');
    } else {
      request.log.debug({ code: appError.code, url: request.url }, 'request refused');
    }
    void reply.status(status).send({ error: appError.toBody() });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: { code: ErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url.split('?')[0]}` },
    });
  });

  // Before the auth hook, so refusals carry the headers too.
  await app.register(helmet, securityHeaders());

  const corsOrigins = deps.config.corsOrigins;
  app.addHook('onRequest', async (request, reply) => {
    // The route the router chose: its URL is the pattern, matched on the decoded path, so
    // `/%74emplates` is `/templates` here exactly as it is to the handler.
    const route = request.routeOptions.url;
    if (!deps.isReady() && route !== '/healthz' && route !== '/readyz') {
      throw new AppError(ErrorCode.UNAVAILABLE, 'the server is shutting down or starting; retry on another instance');
    }
    const origin = request.headers.origin;
    if (!isOriginAllowed(origin, request.headers.host, corsOrigins)) {
      throw new AppError(
        ErrorCode.FORBIDDEN,
        `requests from the web origin ${String(origin)} are not allowed; add it to CORS_ORIGINS to allow it`,
      );
    }
    if (origin !== undefined && !isSameOrigin(origin, request.headers.host)) {
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        return reply
          .status(204)
          .header('access-control-allow-methods', 'GET, POST, PUT, DELETE')
          .header('access-control-allow-headers', 'authorization, content-type')
          .header('access-control-max-age', '600')
          .send();
      }
    }
    // No route (404): nothing to protect, and the not-found handler says so.
    if (route === undefined || request.routeOptions.config.public === true) return;
    request.principal = await deps.auth.verify(bearer(request));
    return;
  });

  if (deps.rateLimitStore !== undefined) await registerRateLimit(app, deps.limits, deps.rateLimitStore);

  app.get('/healthz', PUBLIC_ROUTE, async () => ({ ok: true }));
  app.get('/readyz', PUBLIC_ROUTE, async (_request, reply) => {
    if (!deps.isReady()) return reply.status(503).send({ ready: false, reason: 'shutting down or starting' });
    try {
      await deps.checkDependencies();
    } catch (error) {
      return reply.status(503).send({ ready: false, reason: String(error instanceof Error ? error.message : error) });
    }
    return { ready: true };
  });
  app.get('/openapi.json', PUBLIC_ROUTE, async () => buildOpenApi());
  if (deps.metrics !== undefined) {
    const metrics = deps.metrics;
    app.get('/metrics', PUBLIC_ROUTE, async (_request, reply) => {
      const { contentType, body } = await metrics();
      return reply.type(contentType).send(body);
    });
  }

  if (deps.apiRoutes !== false) registerApiRoutes(app, deps);
  if (deps.extraRoutes !== undefined) await deps.extraRoutes(app);
  return app;
}

/**
 * REST rate limits per user, counted in Redis so they hold across instances: every API route
 * shares one budget of RATE_REST_PER_MINUTE per user (the client address without a token), and
 * creating shards and minting share links have their own hourly caps on top (see `perUserHourly`).
 * Runs as a preHandler, after authentication, so it counts by token `sub`. Admin tokens (the host
 * application's backend) and the non-API routes (health, metrics, the editor's files) are exempt.
 * If Redis cannot be reached the request is let through: the socket path is down then anyway.
 */
async function registerRateLimit(
  app: FastifyInstance,
  limits: Config['limits'],
  store: { redis: Redis | Cluster; keyPrefix: string },
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
 * limit), counted in the same Redis store under its own key.
 */
function perUserHourly(app: FastifyInstance, kind: string, max: number) {
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
function createZipSlots(maxPerUser: number): { acquire(userId: string): () => void } {
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

function registerApiRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const limited = deps.rateLimitStore !== undefined;
  const zipSlots = createZipSlots(deps.limits.zipMaxConcurrentPerUser);
  app.get('/templates', async () => ({ templates: deps.templates.list() }));
  app.get('/templates/:id', async (request) => {
    const { id } = request.params as { id: string };
    const template = deps.templates.get(id);
    if (template === undefined)
      throw new AppError(ErrorCode.TEMPLATE_NOT_FOUND, `no template "${id}"; GET /templates lists them`);
    return { template };
  });

  app.post(
    '/shards',
    limited ? { preHandler: perUserHourly(app, 'shard creations', deps.limits.shardCreatesPerHour) } : {},
    async (request, reply) => {
      const body = parse(CreateShardBody, request.body);
      const shard = await deps.shards.create(principalOf(request), body);
      return reply.status(201).send({ shard });
    },
  );
  app.get('/shards/:id', async (request) => ({
    shard: await deps.shards.get(principalOf(request), shardIdOf(request)),
  }));
  app.get('/shards/:id/zip', async (request, reply) => {
    const principal = principalOf(request);
    const release = zipSlots.acquire(principal.userId);
    try {
      const { name, stream } = await deps.shards.zip(principal, shardIdOf(request));
      const filename = `${name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80) || 'shard'}.zip`;
      // Held until the response is done or the client went away, whichever comes first.
      reply.raw.once('close', release);
      return await reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .send(Readable.from(stream, { objectMode: false }));
    } catch (error) {
      release();
      throw error;
    }
  });
  const shareLinkLimit = limited
    ? { preHandler: perUserHourly(app, 'share links', deps.limits.shareLinksPerHour) }
    : {};
  app.post('/shards/:id/tokens', shareLinkLimit, async (request, reply) => {
    const shardId = shardIdOf(request);
    const principal = principalOf(request);
    assertAccess(principal, shardId, 'write');
    await deps.shards.get(principal, shardId);
    const body = parse(ShareBody, request.body);
    const { token, link } = await deps.auth.mintShareLink(principal, shardId, body.access, body.ttlSeconds);
    return reply.status(201).send({ token, access: body.access, link: linkBody(link) });
  });
  app.get('/shards/:id/tokens', async (request) => {
    const shardId = await manageableShard(request);
    const links = await deps.auth.shareLinks().list(shardId);
    return { links: links.map(linkBody) };
  });
  app.delete('/shards/:id/tokens/:linkId', async (request) => {
    const shardId = await manageableShard(request);
    const { linkId } = request.params as { linkId: string };
    if (!(await deps.auth.shareLinks().revoke(shardId, linkId))) {
      throw new AppError(
        ErrorCode.NOT_FOUND,
        'no live share link with this id on this shard (GET …/tokens lists them)',
      );
    }
    await deps.disconnectShareLinks?.([linkId]);
    return { revoked: [linkId] };
  });
  app.delete('/shards/:id/tokens', async (request) => {
    const shardId = await manageableShard(request);
    const revoked = await deps.auth.shareLinks().revokeAll(shardId);
    if (revoked.length > 0) await deps.disconnectShareLinks?.(revoked);
    return { revoked };
  });

  /**
   * The shard whose share links the request lists or revokes: the caller needs write access
   * through their own token; a share link cannot manage links (a guest cannot cut off the others).
   */
  async function manageableShard(request: FastifyRequest): Promise<ShardId> {
    const shardId = shardIdOf(request);
    const principal = principalOf(request);
    assertAccess(principal, shardId, 'write');
    if (principal.link !== undefined) {
      throw new AppError(ErrorCode.FORBIDDEN, 'a share link cannot list or revoke share links; use your own token');
    }
    await deps.shards.get(principal, shardId);
    return shardId;
  }

  app.get('/shards/:id/files/*', async (request, reply) => {
    const { file, content } = await deps.shards.readFile(principalOf(request), shardIdOf(request), wildcard(request));
    if ((request.query as Record<string, unknown>)['raw'] !== undefined) {
      return reply.type('text/plain; charset=utf-8').send(content);
    }
    return { file, content };
  });
  app.put('/shards/:id/files/*', async (request, reply) => {
    const body = parse(WriteFileBody, request.body);
    const result = await deps.shards.writeFile(
      principalOf(request),
      shardIdOf(request),
      wildcard(request),
      body.content,
    );
    return reply.status(result.created ? 201 : 200).send(result);
  });
  app.post('/shards/:id/files', async (request, reply) => {
    const body = parse(CreateFileBody, request.body);
    const result = await deps.shards.createFile(
      principalOf(request),
      shardIdOf(request),
      body.path,
      body.content ?? '',
    );
    return reply.status(201).send(result);
  });
  app.delete('/shards/:id/files/*', async (request) =>
    deps.shards.deleteFile(principalOf(request), shardIdOf(request), wildcard(request)),
  );
  app.post('/shards/:id/move', async (request) => {
    const body = parse(MoveBody, request.body);
    return deps.shards.renameFile(principalOf(request), shardIdOf(request), body.from, body.to);
  });
}

/** A share link as the REST API shows it. */
function linkBody(link: ShareLink): Record<string, unknown> {
  return {
    id: link.id,
    access: link.access,
    mintedBy: link.mintedBy,
    createdAt: new Date(link.createdAtMs).toISOString(),
    expiresAt: new Date(link.expiresAtMs).toISOString(),
  };
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new AppError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required');
  return request.principal;
}

function shardIdOf(request: FastifyRequest): ShardId {
  const { id } = request.params as { id: string };
  if (!isShardId(id)) throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id (ids are UUIDs)');
  return id;
}

function wildcard(request: FastifyRequest): string {
  return (request.params as Record<string, string>)['*'] ?? '';
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
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

function fromFastifyError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: unknown }).code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'the request body is larger than allowed', { cause: error });
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const message = error instanceof Error ? error.message : 'bad request';
    return new AppError(ErrorCode.VALIDATION_FAILED, `bad request: ${message}`, { cause: error });
  }
  return toAppError(error);
}

export type { FastifyInstance, FastifyReply };
