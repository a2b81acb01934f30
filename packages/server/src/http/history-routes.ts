import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CheckpointDiffQuery,
  CheckpointSeq,
  CreateCheckpointBody,
  ErrorCode,
  ListCheckpointsQuery,
  RestoreCheckpointBody,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { ShardService } from '../shards/index.js';
import { sendBinaryFile } from './raw-bodies.js';
import { parseBody, parseQuery, principalOf, shardIdOf, wildcard } from './request-context.js';

/**
 * Version history over REST: list, name, read, diff and restore checkpoints. Readers browse;
 * naming a version and restoring need write access. `deps` is read on every request.
 */
export function registerHistoryRoutes(app: FastifyInstance, deps: { shards: ShardService }): void {
  app.get('/shards/:id/checkpoints', async (request) => {
    const query = parseQuery(ListCheckpointsQuery, request.query);
    return deps.shards.history.list(principalOf(request), shardIdOf(request), query);
  });
  app.post('/shards/:id/checkpoints', async (request, reply) => {
    const body = parseBody(CreateCheckpointBody, request.body);
    const checkpoint = await deps.shards.history.name(principalOf(request), shardIdOf(request), body.label);
    return reply.status(201).send({ checkpoint });
  });
  app.get('/shards/:id/checkpoints/:seq', async (request) => ({
    checkpoint: await deps.shards.history.get(principalOf(request), shardIdOf(request), seqOf(request)),
  }));
  app.get('/shards/:id/checkpoints/:seq/files/*', async (request, reply) => {
    const read = await deps.shards.history.readFile(
      principalOf(request),
      shardIdOf(request),
      seqOf(request),
      wildcard(request),
    );
    // A binary file: its bytes, as GET /shards/:id/files/<path> serves them.
    if ('bytes' in read) return sendBinaryFile(reply, read.file.path, read.bytes);
    if ((request.query as Record<string, unknown>)['raw'] !== undefined) {
      return reply.type('text/plain; charset=utf-8').send(read.content);
    }
    return { file: read.file, content: read.content };
  });
  app.get('/shards/:id/checkpoints/:seq/diff', async (request) => {
    const query = parseQuery(CheckpointDiffQuery, request.query);
    return deps.shards.history.diff(principalOf(request), shardIdOf(request), seqOf(request), query);
  });
  app.post('/shards/:id/checkpoints/:seq/restore', async (request) => {
    const body = parseBody(RestoreCheckpointBody, request.body ?? {});
    return deps.shards.history.restore(principalOf(request), shardIdOf(request), seqOf(request), body.path);
  });
}

/** The `:seq` route parameter; CHECKPOINT_NOT_FOUND when it is not a checkpoint number. */
function seqOf(request: FastifyRequest): number {
  const { seq } = request.params as { seq: string };
  const parsed = /^[1-9][0-9]{0,15}$/.test(seq) ? CheckpointSeq.safeParse(seq) : undefined;
  if (parsed?.success !== true) {
    throw new AppError(ErrorCode.CHECKPOINT_NOT_FOUND, 'no checkpoint with this number (checkpoints are 1, 2, …)');
  }
  return parsed.data;
}
