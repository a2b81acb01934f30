import helmet from '@fastify/helmet';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { ErrorCode } from '@tandem/protocol';
import { AppError, httpStatusOf, toAppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { AuthService } from '../auth/index.js';
import { isOriginAllowed, isSameOrigin } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import type { TemplateRegistry } from '../templates/index.js';
import { buildOpenApi } from './openapi.js';
import { registerRateLimit, type RateLimitStore } from './rate-limits.js';
import { bearer, PUBLIC_ROUTE } from './request-context.js';
import { securityHeaders } from './security-headers.js';
import { registerShardRoutes } from './shard-routes.js';
import { registerHistoryRoutes } from './history-routes.js';
import { registerShareLinkRoutes } from './share-link-routes.js';
import { registerTemplateRoutes } from './template-routes.js';

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
  rateLimitStore?: RateLimitStore;
};

/** Builds the Fastify instance with every REST route, the error handler and auth. Does not listen. */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    // Per-request logs are noise at info level; errors are logged once by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomUUID(),
    // Errors Fastify raises before routing (a malformed percent-escape in the URL) get the API's error body too.
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
    } else if (status >= 500 && appError.cause !== undefined) {
      // Retryable (a database or Redis outage, a reload), but what failed underneath is worth a
      // line: without it a failed read under load leaves no trace.
      request.log.warn({ err: appError.cause, code: appError.code, url: request.url }, 'request failed; retryable');
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

  if (deps.apiRoutes !== false) {
    const rateLimited = deps.rateLimitStore !== undefined;
    registerTemplateRoutes(app, deps);
    registerShardRoutes(app, deps, rateLimited);
    registerHistoryRoutes(app, deps);
    registerShareLinkRoutes(app, deps, rateLimited);
  }
  if (deps.extraRoutes !== undefined) await deps.extraRoutes(app);
  return app;
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
