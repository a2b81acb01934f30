import type { FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  CreateShardBody,
  ForkShardBody,
  ListShardsQuery,
  RenameShardBody,
  SearchQuery,
  WriteFileBody,
} from '@tandem/protocol';
import type { Config } from '../config/index.js';
import type { AuthService } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import { createZipSlots, perUserHourly } from './rate-limits.js';
import { parseBody, parseQuery, principalOf, shardIdOf, wildcard } from './request-context.js';

const MoveBody = z.strictObject({ from: z.string(), to: z.string() });
const CreateFileBody = z.strictObject({ path: z.string(), content: z.string().optional() });

/** Matches one search returns when the caller does not say. */
const DEFAULT_SEARCH_LIMIT = 200;

export type ShardRoutesDeps = {
  shards: ShardService;
  limits: Config['limits'];
  /** Revokes a deleted shard's share links (absent: they lapse with their expiry). */
  auth?: AuthService;
};

/**
 * The shard REST API: create and read shards, download one as a zip, read and write its files.
 * `deps` is read on every request (its `shards` may be bound after the routes are registered).
 * With `rateLimited` (registerRateLimit ran), creating shards has its own hourly cap.
 */
export function registerShardRoutes(app: FastifyInstance, deps: ShardRoutesDeps, rateLimited: boolean): void {
  const zipSlots = createZipSlots(deps.limits.zipMaxConcurrentPerUser);

  app.post(
    '/shards',
    rateLimited ? { preHandler: perUserHourly(app, 'shard creations', deps.limits.shardCreatesPerHour) } : {},
    async (request, reply) => {
      const body = parseBody(CreateShardBody, request.body);
      const shard = await deps.shards.create(principalOf(request), body);
      return reply.status(201).send({ shard });
    },
  );
  app.get('/shards', async (request) => {
    const query = parseQuery(ListShardsQuery, request.query);
    return deps.shards.list(principalOf(request), { limit: query.limit, cursor: query.cursor });
  });
  app.get('/shards/:id', async (request) => ({
    shard: await deps.shards.get(principalOf(request), shardIdOf(request)),
  }));
  app.patch('/shards/:id', async (request) => {
    const body = parseBody(RenameShardBody, request.body);
    return { shard: await deps.shards.rename(principalOf(request), shardIdOf(request), body.name) };
  });
  app.delete('/shards/:id', async (request) => {
    const shardId = shardIdOf(request);
    await deps.shards.delete(principalOf(request), shardId);
    // Its links could open nothing any more; revoked so they stop counting and listing.
    if (deps.auth?.canMint() === true) await deps.auth.shareLinks().revokeAll(shardId);
    return { deleted: shardId };
  });
  app.post(
    '/shards/:id/fork',
    rateLimited ? { preHandler: perUserHourly(app, 'shard creations', deps.limits.shardCreatesPerHour) } : {},
    async (request, reply) => {
      const body = parseBody(ForkShardBody, request.body ?? {});
      const shard = await deps.shards.fork(principalOf(request), shardIdOf(request), body.name);
      return reply.status(201).send({ shard });
    },
  );
  app.get('/shards/:id/search', async (request) => {
    const query = parseQuery(SearchQuery, request.query);
    return deps.shards.search(principalOf(request), shardIdOf(request), {
      query: query.q,
      caseSensitive: query.caseSensitive === 'true',
      limit: query.limit ?? DEFAULT_SEARCH_LIMIT,
    });
  });
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

  app.get('/shards/:id/files/*', async (request, reply) => {
    const { file, content } = await deps.shards.readFile(principalOf(request), shardIdOf(request), wildcard(request));
    if ((request.query as Record<string, unknown>)['raw'] !== undefined) {
      return reply.type('text/plain; charset=utf-8').send(content);
    }
    return { file, content };
  });
  app.put('/shards/:id/files/*', async (request, reply) => {
    const body = parseBody(WriteFileBody, request.body);
    const result = await deps.shards.writeFile(
      principalOf(request),
      shardIdOf(request),
      wildcard(request),
      body.content,
    );
    return reply.status(result.created ? 201 : 200).send(result);
  });
  app.post('/shards/:id/files', async (request, reply) => {
    const body = parseBody(CreateFileBody, request.body);
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
    const body = parseBody(MoveBody, request.body);
    return deps.shards.renameFile(principalOf(request), shardIdOf(request), body.from, body.to);
  });
}
