/**
 * http — the Fastify server: REST routes, auth hook, the error handler (code → status through
 * errors/), health and readiness, OpenAPI. Imports shards, auth, templates, config, logging,
 * errors, protocol; never realtime or sync-jobs.
 */
export { createHttpServer, type HttpDeps } from './http-server.js';
export { buildOpenApi } from './openapi.js';
