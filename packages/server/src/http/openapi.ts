import { z } from 'zod';
import {
  CHECKPOINT_REASONS,
  CreateCheckpointBody,
  CreateShardBody,
  ErrorCode,
  ForkShardBody,
  MAX_SEARCH_RESULTS,
  MAX_SHARD_PAGE_SIZE,
  RenameShardBody,
  RestoreCheckpointBody,
  WriteFileBody,
} from '@tandem/protocol';

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', enum: Object.values(ErrorCode) },
        message: { type: 'string' },
        details: { type: 'object' },
      },
      required: ['code', 'message'],
    },
  },
};

function body(schema: z.ZodType): Record<string, unknown> {
  return { required: true, content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input' }) } } };
}

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      { description: 'error', content: { 'application/json': { schema: errorSchema } } },
    ]),
  );

const shardParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const seqParam = {
  name: 'seq',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1 },
  description: 'checkpoint number (1, 2, … per shard)',
};

const checkpointSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    label: { type: ['string', 'null'] },
    reason: { type: 'string', enum: [...CHECKPOINT_REASONS] },
    authors: {
      type: 'array',
      items: { type: 'object', properties: { userId: { type: 'string' }, name: { type: 'string' } } },
    },
    filesChanged: { type: 'integer' },
    storedBytes: { type: 'integer' },
    version: { type: 'integer' },
  },
  required: ['seq', 'createdAt', 'label', 'reason', 'authors', 'filesChanged', 'storedBytes', 'version'],
};

const json = (description: string, schema: Record<string, unknown>) => ({
  description,
  content: { 'application/json': { schema } },
});

const pathParam = { name: '*', in: 'path', required: true, schema: { type: 'string' }, description: 'file path' };

let cached: Record<string, unknown> | undefined;

/** The OpenAPI 3.1 description of the REST API, served at /openapi.json. */
export function buildOpenApi(): Record<string, unknown> {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Tandem',
      version: '0.1.0',
      description:
        'Realtime collaboration server for browser code editors. Every route except /healthz, /readyz, /metrics and /openapi.json needs `Authorization: Bearer <JWT>`. Errors are `{ error: { code, message, details? } }` with a stable code.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: errorSchema, Checkpoint: checkpointSchema },
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'alive' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness (Redis and database reachable, not shutting down)',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text' } } },
      },
      '/templates': {
        get: { summary: 'List templates', responses: { '200': { description: 'templates' }, ...errors(401) } },
      },
      '/templates/{id}': {
        get: {
          summary: 'Read a template with its files',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'template' }, ...errors(401, 404) },
        },
      },
      '/shards': {
        get: {
          summary:
            'List the shards you may read (your own, those your token names, all for admins), most recently updated first (a shard edited now counts as updated now, before its edits are synced)',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: MAX_SHARD_PAGE_SIZE, default: 20 },
            },
            {
              name: 'cursor',
              in: 'query',
              schema: { type: 'string' },
              description: 'nextCursor of the previous page',
            },
          ],
          responses: {
            '200': {
              description:
                '{ shards: [{ id, name, ownerId, templateId, createdAt, updatedAt, … }], nextCursor: string | null }',
            },
            ...errors(400, 401),
          },
        },
        post: {
          summary: 'Create a shard from a template',
          requestBody: body(CreateShardBody),
          responses: { '201': { description: 'created: { shard }' }, ...errors(400, 401, 403, 404, 413) },
        },
      },
      '/shards/import': {
        post: {
          summary:
            'Create a shard from a zip archive (text files become collaborative documents, other files binary files). A single top-level folder is stripped; node_modules/, .git/ and __MACOSX/ are left out. Nothing is written when any entry is refused.',
          parameters: [
            {
              name: 'name',
              in: 'query',
              required: false,
              schema: { type: 'string' },
              description: 'default: the folder name',
            },
            {
              name: 'templateId',
              in: 'query',
              required: false,
              schema: { type: 'string' },
              description: "default: guessed from package.json (react, vue, …), else 'static'",
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
          },
          responses: {
            '201': { description: 'created: { shard }' },
            '400': {
              description:
                'ARCHIVE_INVALID (not a readable zip, encrypted), PATH_INVALID (an entry escapes the project: absolute or "..", zip-slip; details.entry names it)',
              content: { 'application/json': { schema: errorSchema } },
            },
            '409': {
              description: 'TOO_MANY_FILES (more than MAX_FILES_PER_SHARD), FILE_EXISTS (a path twice)',
              content: { 'application/json': { schema: errorSchema } },
            },
            '413': {
              description:
                'FILE_TOO_LARGE (an entry over MAX_FILE_BYTES, or MAX_ASSET_BYTES for a binary one), PAYLOAD_TOO_LARGE (over IMPORT_MAX_BYTES)',
              content: { 'application/json': { schema: errorSchema } },
            },
            ...errors(401, 403, 404, 429),
          },
        },
      },
      '/shards/{id}': {
        get: {
          summary: 'Read a shard: metadata and file tree',
          parameters: [shardParam],
          responses: { '200': { description: '{ shard }' }, ...errors(401, 403, 404) },
        },
        patch: {
          summary: 'Rename a shard (write access); everyone in it gets shard:renamed',
          parameters: [shardParam],
          requestBody: body(RenameShardBody),
          responses: { '200': { description: '{ shard }' }, ...errors(400, 401, 403, 404) },
        },
        delete: {
          summary:
            'Delete a shard (its owner or an admin): rows, cached live state and share links go; everyone in it gets shard:deleted and is taken out of it',
          parameters: [shardParam],
          responses: { '200': { description: '{ deleted: id }' }, ...errors(401, 403, 404) },
        },
      },
      '/shards/{id}/fork': {
        post: {
          summary:
            'Copy the live state of a shard (unsynced edits included) into a new shard you own; read access to the source and the right to create shards suffice; the version history is not copied (the fork starts with one checkpoint)',
          parameters: [shardParam],
          requestBody: { ...body(ForkShardBody), required: false },
          responses: { '201': { description: '{ shard }' }, ...errors(400, 401, 403, 404, 429) },
        },
      },
      '/shards/{id}/search': {
        get: {
          summary: 'Search the live text of every file of the shard (plain text), by file and line',
          parameters: [
            shardParam,
            { name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } },
            {
              name: 'caseSensitive',
              in: 'query',
              schema: { type: 'string', enum: ['true', 'false'], default: 'false' },
            },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_RESULTS, default: 200 },
            },
          ],
          responses: {
            '200': {
              description:
                '{ matches: [{ fileId, path, line, column, length, preview, previewColumn }], truncated, filesSearched }',
            },
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/shards/{id}/zip': {
        get: {
          summary: 'Download the shard as a zip archive',
          parameters: [shardParam],
          responses: { '200': { description: 'application/zip' }, ...errors(401, 403, 404) },
        },
      },
      '/shards/{id}/tokens': {
        post: {
          summary: 'Mint a share token for this shard (read or write)',
          parameters: [shardParam],
          requestBody: body(
            z.strictObject({ access: z.enum(['read', 'write']), ttlSeconds: z.number().int().optional() }),
          ),
          responses: {
            '201': { description: '{ token, access, link: { id, access, mintedBy, createdAt, expiresAt } }' },
            ...errors(400, 401, 403, 404, 429),
          },
        },
        get: {
          summary: "List the shard's live share links (write access with your own token, not a link)",
          parameters: [shardParam],
          responses: {
            '200': { description: '{ links: [{ id, access, mintedBy, createdAt, expiresAt }] }' },
            ...errors(401, 403, 404),
          },
        },
        delete: {
          summary: 'Revoke every live share link of the shard; their sockets are disconnected',
          parameters: [shardParam],
          responses: { '200': { description: '{ revoked: [linkId] }' }, ...errors(401, 403, 404) },
        },
      },
      '/shards/{id}/tokens/{linkId}': {
        delete: {
          summary: 'Revoke one share link; its sockets are disconnected on every instance',
          parameters: [
            shardParam,
            { name: 'linkId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: { '200': { description: '{ revoked: [linkId] }' }, ...errors(401, 403, 404) },
        },
      },
      '/shards/{id}/files': {
        post: {
          summary: 'Create a file (409 FILE_EXISTS if present)',
          parameters: [shardParam],
          requestBody: body(z.strictObject({ path: z.string(), content: z.string().optional() })),
          responses: { '201': { description: '{ file, version }' }, ...errors(400, 401, 403, 404, 409, 413) },
        },
      },
      '/shards/{id}/files/{*}': {
        get: {
          summary:
            'Read a file: a text file as { file, content } (?raw for text/plain), a binary file as its bytes with the content type its name implies (header x-tandem-file-kind: binary)',
          parameters: [shardParam, pathParam],
          responses: { '200': { description: '{ file, content } or the bytes' }, ...errors(400, 401, 403, 404) },
        },
        put: {
          summary:
            'Write a file (creates it when missing); live collaborators see the change. application/json { content } or text/* (UTF-8): a text file. Any other content type (image/png, font/woff2, application/octet-stream…): a binary file of at most MAX_ASSET_BYTES, created or replaced whole (409 FILE_KIND_MISMATCH over a text file, or text over a binary file)',
          parameters: [shardParam, pathParam],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: z.toJSONSchema(WriteFileBody, { io: 'input' }) },
              'text/plain': { schema: { type: 'string' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': { description: 'replaced' },
            '201': { description: 'created' },
            ...errors(400, 401, 403, 404, 409, 413),
          },
        },
        delete: {
          summary: 'Delete a file or a folder',
          parameters: [shardParam, pathParam],
          responses: { '200': { description: '{ files, version }' }, ...errors(400, 401, 403, 404) },
        },
      },
      '/shards/{id}/checkpoints': {
        get: {
          summary: 'List checkpoints (version history), newest first, one page at a time',
          parameters: [
            shardParam,
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
            {
              name: 'before',
              in: 'query',
              schema: { type: 'integer', minimum: 1 },
              description: 'list checkpoints older than this seq (the previous page’s nextBefore)',
            },
          ],
          responses: {
            '200': json('{ checkpoints, nextBefore }', {
              type: 'object',
              properties: {
                checkpoints: { type: 'array', items: { $ref: '#/components/schemas/Checkpoint' } },
                nextBefore: { type: ['integer', 'null'] },
              },
            }),
            ...errors(400, 401, 403, 404),
          },
        },
        post: {
          summary: 'Name the current version: flushes the shard and records a named checkpoint (never pruned)',
          parameters: [shardParam],
          requestBody: body(CreateCheckpointBody),
          responses: {
            '201': json('{ checkpoint }', {
              type: 'object',
              properties: { checkpoint: { $ref: '#/components/schemas/Checkpoint' } },
            }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/shards/{id}/checkpoints/{seq}': {
        get: {
          summary: 'Read a checkpoint with its file tree',
          parameters: [shardParam, seqParam],
          responses: {
            '200': { description: '{ checkpoint: { …, files: [{ id, path }] } }' },
            ...errors(401, 403, 404),
          },
        },
      },
      '/shards/{id}/checkpoints/{seq}/files/{*}': {
        get: {
          summary:
            'Read a file as it was at a checkpoint: a text file as { file, content } (?raw for text/plain), a binary file as its bytes with the content type its name implies',
          parameters: [shardParam, seqParam, pathParam],
          responses: { '200': { description: '{ file, content } or the bytes' }, ...errors(400, 401, 403, 404) },
        },
      },
      '/shards/{id}/checkpoints/{seq}/diff': {
        get: {
          summary: 'Changed files from a checkpoint to now or to another checkpoint, with unified diffs',
          parameters: [
            shardParam,
            seqParam,
            {
              name: 'to',
              in: 'query',
              schema: {
                oneOf: [
                  { type: 'string', enum: ['now'] },
                  { type: 'integer', minimum: 1 },
                ],
                default: 'now',
              },
            },
            { name: 'path', in: 'query', schema: { type: 'string' }, description: 'only this file or folder' },
          ],
          responses: {
            '200': {
              description:
                '{ from, to, files: [{ status: added|removed|renamed|modified, path, oldPath, fileId, additions, deletions, patch }] }',
            },
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/shards/{id}/checkpoints/{seq}/restore': {
        post: {
          summary:
            'Restore a file, a folder (path) or the whole shard to a checkpoint, live: the state before becomes a checkpoint first (writers only)',
          parameters: [shardParam, seqParam],
          requestBody: { ...body(RestoreCheckpointBody), required: false },
          responses: {
            '200': { description: '{ checkpoint, before, path, written, created, deleted, renamed, version }' },
            ...errors(400, 401, 403, 404, 409, 413),
          },
        },
      },
      '/shards/{id}/move': {
        post: {
          summary: 'Rename or move a file or folder',
          parameters: [shardParam],
          requestBody: body(z.strictObject({ from: z.string(), to: z.string() })),
          responses: { '200': { description: '{ moves, version }' }, ...errors(400, 401, 403, 404, 409) },
        },
      },
    },
  };
  return cached;
}
