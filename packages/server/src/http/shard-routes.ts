import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import {
  CreateShardBody,
  ErrorCode,
  ForkShardBody,
  ListShardsQuery,
  RenameShardBody,
  SearchQuery,
  WriteFileBody,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { AuthService } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import { createZipSlots, perUserHourly } from './rate-limits.js';
import { bodyKind, bytesOf, registerRawBodies, sendBinaryFile, textOf } from './raw-bodies.js';
import { parseBody, parseQuery, principalOf, shardIdOf, wildcard } from './request-context.js';

const MoveBody = z.strictObject({ from: z.string(), to: z.string() });
const CreateFileBody = z.strictObject({ path: z.string(), content: z.string().optional() });
const ImportQuery = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  templateId: z.string().min(1).max(100).optional(),
});

/** Matches one search returns when the caller does not say. */
const DEFAULT_SEARCH_LIMIT = 200;

export type ShardRoutesDeps = {
  shards: ShardService;
  limits: Config['limits'];
  /** The default request body limit (HTTP_BODY_LIMIT_BYTES): uploads of binary files may be larger. */
  config: Pick<Config['http'], 'bodyLimitBytes'>;
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
  registerRawBodies(app);

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
        .send(Readable.from(logFailure(stream, request.log, shardIdOf(request)), { objectMode: false }));
    } catch (error) {
      release();
      throw error;
    }
  });

  app.post(
    '/shards/import',
    {
      bodyLimit: deps.limits.importMaxBytes,
      ...(rateLimited ? { preHandler: perUserHourly(app, 'shard creations', deps.limits.shardCreatesPerHour) } : {}),
    },
    async (request, reply) => {
      const query = parseBody(ImportQuery, request.query);
      const shard = await deps.shards.importZip(principalOf(request), bytesOf(request.body, 'a zip archive'), query);
      return reply.status(201).send({ shard });
    },
  );

  app.get('/shards/:id/files/*', async (request, reply) => {
    const read = await deps.shards.readFile(principalOf(request), shardIdOf(request), wildcard(request));
    if ('bytes' in read) return sendBinaryFile(reply, read.file.path, read.bytes);
    if ((request.query as Record<string, unknown>)['raw'] !== undefined) {
      return reply.type('text/plain; charset=utf-8').send(read.content);
    }
    return { file: read.file, content: read.content };
  });
  app.put(
    '/shards/:id/files/*',
    {
      bodyLimit: Math.max(deps.config.bodyLimitBytes, deps.limits.maxAssetBytes),
      // Refused before the body is read when its declared size is already too large.
      onRequest: async (request) => {
        const length = Number(request.headers['content-length'] ?? 0);
        const binary = bodyKind(request.headers['content-type']) === 'binary';
        if (binary && length > deps.limits.maxAssetBytes) {
          throw new AppError(
            ErrorCode.FILE_TOO_LARGE,
            `a binary file may hold at most ${deps.limits.maxAssetBytes} bytes (MAX_ASSET_BYTES)`,
          );
        }
        // Text keeps the usual body limit (the route's own is raised for binary files).
        if (!binary && length > deps.config.bodyLimitBytes) {
          throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'the request body is larger than allowed');
        }
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const shardId = shardIdOf(request);
      const result = await (async () => {
        switch (bodyKind(request.headers['content-type'])) {
          case 'json':
            return deps.shards.writeFile(
              principal,
              shardId,
              wildcard(request),
              parseBody(WriteFileBody, request.body).content,
            );
          case 'text':
            return deps.shards.writeFile(principal, shardId, wildcard(request), textOf(request.body));
          case 'binary':
            return deps.shards.putBlob(principal, shardId, wildcard(request), bytesOf(request.body, 'the file'));
          case 'form':
            throw new AppError(
              ErrorCode.VALIDATION_FAILED,
              'send a file as JSON { "content": "…" }, as text/* or as raw bytes with its content type, not as a form',
            );
        }
      })();
      return reply.status(result.created ? 201 : 200).send(result);
    },
  );
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

/**
 * A download cut after its first bytes can only end the connection (the client sees a truncated
 * archive); Fastify notes that at info level. Logged here as a warning with its cause, so that an
 * operator (or a failing test) can tell a limit (PAYLOAD_TOO_LARGE) from a failed read.
 */
async function* logFailure(
  stream: AsyncIterable<Uint8Array>,
  log: FastifyBaseLogger,
  shardId: string,
): AsyncGenerator<Uint8Array> {
  try {
    yield* stream;
  } catch (error) {
    log.warn({ err: error, shardId }, 'zip download cut short');
    throw error;
  }
}
