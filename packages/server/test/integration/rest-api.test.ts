import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { Redis } from 'ioredis';
import { strFromU8, unzipSync } from 'fflate';
import { decodeJwt, SignJWT } from 'jose';
import type { ErrorBody, FileEntry, ShardDetail, ShardId, TemplateSummary } from '@tandem/protocol';
import {
  adminToken,
  createShard,
  createTestDatabase,
  startTestApp,
  tokenFor,
  uniquePrefix,
  type RunningApp,
} from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { TEST_REDIS_URL } from '../support/services.js';

// ---- HTTP helpers ------------------------------------------------------------------------------

type Reply = {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
};

type SendOptions = {
  /** Bearer token; `null` sends no Authorization header. Default: an admin token. */
  token?: string | null;
  /** A JSON body (serialised here). */
  json?: unknown;
  /** A raw body, sent as it is. */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
};

let admin: string;

/**
 * One request with node:http, so the path goes out exactly as written: fetch would resolve
 * `..` and `%2e%2e` segments before sending them.
 */
function send(base: string, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(base);
  const token = options.token === undefined ? admin : options.token;
  const headers: Record<string, string> = { ...options.headers };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: Buffer | undefined;
  if (options.json !== undefined) {
    body = Buffer.from(JSON.stringify(options.json));
    headers['content-type'] = 'application/json';
  } else if (options.body !== undefined) {
    body = Buffer.from(options.body);
  }
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          bytes,
          text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Encodes each segment of a file path for a URL. */
function filesUrl(shardId: string, path: string): string {
  return `/shards/${shardId}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** Asserts the documented error shape: JSON `{ error: { code, message } }`, the right status, nothing internal. */
function expectError(reply: Reply, status: number, code: string): ErrorBody {
  let body: { error?: ErrorBody };
  try {
    body = reply.json();
  } catch {
    throw new Error(`expected a JSON error body, got ${reply.status}: ${reply.text.slice(0, 200)}`);
  }
  expect({ status: reply.status, code: body.error?.code }, reply.text.slice(0, 300)).toEqual({ status, code });
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(body)).toEqual(['error']);
  const error = body.error as ErrorBody;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(5);
  expect(reply.text).not.toMatch(/\.ts:\d+|node_modules|\bstack\b/);
  return error;
}

async function expectJson<T>(reply: Reply, status: number): Promise<T> {
  expect(reply.status, reply.text.slice(0, 300)).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  return reply.json<T>();
}

/** What a client sees of a shard (tree and every file's text) and what the database holds. */
async function snapshot(running: RunningApp, shardId: ShardId) {
  const { shard } = await expectJson<{ shard: ShardDetail }>(await send(running.url, 'GET', `/shards/${shardId}`), 200);
  const contents: Record<string, string> = {};
  for (const file of shard.files) {
    contents[file.path] = (
      await expectJson<{ content: string }>(await send(running.url, 'GET', filesUrl(shardId, file.path)), 200)
    ).content;
  }
  const stored = await running.app.repository.findById(shardId);
  return {
    api: { name: shard.name, files: shard.files, contents },
    database: stored === null ? null : Object.fromEntries(stored.files.map((f) => [f.path, f.content])),
  };
}

// ---- the core API, run against each database ----------------------------------------------------

function coreCrud(kind: 'sqlite' | 'postgres'): void {
  const t = useTandem({ database: kind });
  let running: RunningApp;
  let url: string;

  beforeAll(async () => {
    admin = await adminToken();
    running = t.apps[0]!;
    url = running.url;
  });

  async function content(shardId: ShardId, path: string): Promise<string> {
    return (await expectJson<{ content: string }>(await send(url, 'GET', filesUrl(shardId, path)), 200)).content;
  }

  async function paths(shardId: ShardId): Promise<string[]> {
    return (
      await expectJson<{ shard: ShardDetail }>(await send(url, 'GET', `/shards/${shardId}`), 200)
    ).shard.files.map((f) => f.path);
  }

  it('lists the 14 templates, each with its dependencies and file list', async () => {
    const { templates } = await expectJson<{ templates: TemplateSummary[] }>(await send(url, 'GET', '/templates'), 200);
    expect(templates).toHaveLength(14);
    expect(templates.map((t) => t.id)).toEqual([...templates.map((t) => t.id)].sort());
    for (const t of templates) {
      expect(t).toMatchObject({
        id: expect.any(String),
        title: expect.any(String),
        dependencies: expect.any(Object),
        devDependencies: expect.any(Object),
      });
      expect(t.files.length).toBeGreaterThan(0);
      expect(t).not.toHaveProperty('files.0.content');
    }
    const react = templates.find((t) => t.id === 'react');
    expect(react?.dependencies).toHaveProperty('react');
    expect(react?.dependencies).toHaveProperty('react-dom');
  });

  it('reads one template with its files, and answers 404 TEMPLATE_NOT_FOUND for an unknown one', async () => {
    const { template } = await expectJson<{ template: { id: string; files: Record<string, { content: string }> } }>(
      await send(url, 'GET', '/templates/vanilla'),
      200,
    );
    expect(template.id).toBe('vanilla');
    expect(template.files['index.html']?.content).toContain('<');
    expect(Object.keys(template.files)).toContain('src/main.js');
    expectError(await send(url, 'GET', '/templates/no-such-template'), 404, 'TEMPLATE_NOT_FOUND');
  });

  it('creates a shard from a template (201) with an id and the file tree, stored in the database', async () => {
    const reply = await send(url, 'POST', '/shards', { json: { templateId: 'vanilla', name: 'My shard' } });
    const { shard } = await expectJson<{ shard: ShardDetail }>(reply, 201);
    expect(shard.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(shard).toMatchObject({
      name: 'My shard',
      templateId: 'vanilla',
      devDependencies: { vite: expect.any(String) },
    });
    const { template } = (await send(url, 'GET', '/templates/vanilla')).json<{
      template: { files: Record<string, unknown> };
    }>();
    expect(shard.files.map((f) => f.path)).toEqual(Object.keys(template.files).sort());
    expect(new Set(shard.files.map((f) => f.id)).size).toBe(shard.files.length);

    const stored = await running.app.repository.findById(shard.id);
    expect(stored?.files.map((f) => f.path).sort()).toEqual(shard.files.map((f) => f.path));

    const got = await expectJson<{ shard: ShardDetail }>(await send(url, 'GET', `/shards/${shard.id}`), 200);
    expect(got.shard).toEqual(shard);
  });

  it('reads a file as JSON and as raw text', async () => {
    const shardId = await createShard(url);
    const json = await expectJson<{ file: FileEntry; content: string }>(
      await send(url, 'GET', filesUrl(shardId, 'src/main.js')),
      200,
    );
    expect(json.file.path).toBe('src/main.js');
    const { template } = (await send(url, 'GET', '/templates/vanilla')).json<{
      template: { files: Record<string, { content: string }> };
    }>();
    expect(json.content).toBe(template.files['src/main.js']?.content);

    const raw = await send(url, 'GET', `${filesUrl(shardId, 'src/main.js')}?raw`);
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(raw.text).toBe(json.content);

    expectError(await send(url, 'GET', filesUrl(shardId, 'src/nope.js')), 404, 'FILE_NOT_FOUND');
  });

  it('PUT replaces a file (200) and creates a missing one (201)', async () => {
    const shardId = await createShard(url);
    const replaced = await expectJson<{ file: FileEntry; version: number; created: boolean }>(
      await send(url, 'PUT', filesUrl(shardId, 'index.html'), { json: { content: '<h1>replaced</h1>\n' } }),
      200,
    );
    expect(replaced.created).toBe(false);
    expect(replaced.file.path).toBe('index.html');
    expect(await content(shardId, 'index.html')).toBe('<h1>replaced</h1>\n');

    const unicode = 'héllo wörld ✓ 日本語 😀\n';
    const created = await expectJson<{ file: FileEntry; version: number; created: boolean }>(
      await send(url, 'PUT', filesUrl(shardId, 'docs/notes é.md'), { json: { content: unicode } }),
      201,
    );
    expect(created).toMatchObject({ created: true, file: { path: 'docs/notes é.md' } });
    expect(created.version).toBeGreaterThan(replaced.version);
    expect(await content(shardId, 'docs/notes é.md')).toBe(unicode);
    expect(await paths(shardId)).toContain('docs/notes é.md');

    // Writing the same text again changes nothing.
    const same = await expectJson<{ version: number; created: boolean }>(
      await send(url, 'PUT', filesUrl(shardId, 'docs/notes é.md'), { json: { content: unicode } }),
      200,
    );
    expect(same).toMatchObject({ created: false, version: created.version });
  });

  it('POST /files creates a file (201) and refuses exact and case-only twins with 409 FILE_EXISTS', async () => {
    const shardId = await createShard(url);
    const created = await expectJson<{ file: FileEntry }>(
      await send(url, 'POST', `/shards/${shardId}/files`, {
        json: { path: 'src/util.js', content: 'export const x = 1;\n' },
      }),
      201,
    );
    expect(created.file.path).toBe('src/util.js');
    expect(await content(shardId, 'src/util.js')).toBe('export const x = 1;\n');
    await expectJson(await send(url, 'POST', `/shards/${shardId}/files`, { json: { path: './empty.txt' } }), 201);
    expect(await content(shardId, 'empty.txt')).toBe('');

    const before = await snapshot(running, shardId);
    for (const path of ['src/util.js', 'SRC/Util.JS', 'src/UTIL.js', 'Index.html', 'index.html/child.txt', 'src']) {
      expectError(
        await send(url, 'POST', `/shards/${shardId}/files`, { json: { path, content: 'x' } }),
        409,
        'FILE_EXISTS',
      );
    }
    expect(await snapshot(running, shardId)).toEqual(before);
  });

  it('moves a file and a folder', async () => {
    const shardId = await createShard(url);
    const mainBefore = await content(shardId, 'src/main.js');
    const styleBefore = await content(shardId, 'src/style.css');

    const file = await expectJson<{ moves: Array<{ from: string; to: string }> }>(
      await send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'index.html', to: 'public/home.html' } }),
      200,
    );
    expect(file.moves).toEqual([expect.objectContaining({ from: 'index.html', to: 'public/home.html' })]);
    expectError(await send(url, 'GET', filesUrl(shardId, 'index.html')), 404, 'FILE_NOT_FOUND');
    expect(await content(shardId, 'public/home.html')).toContain('<');

    const folder = await expectJson<{ moves: Array<{ from: string; to: string }> }>(
      await send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'src', to: 'lib/app' } }),
      200,
    );
    expect(folder.moves.map((m) => m.to).sort()).toEqual([
      'lib/app/counter.js',
      'lib/app/main.js',
      'lib/app/style.css',
    ]);
    const after = await paths(shardId);
    expect(after.filter((p) => p.startsWith('src/'))).toEqual([]);
    expect(await content(shardId, 'lib/app/main.js')).toBe(mainBefore);
    expect(await content(shardId, 'lib/app/style.css')).toBe(styleBefore);

    // A case-only rename of a file is allowed (it collides only with itself).
    await expectJson(
      await send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'lib/app/main.js', to: 'lib/app/Main.js' } }),
      200,
    );
    expect(await paths(shardId)).toContain('lib/app/Main.js');
    expectError(
      await send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'package.json', to: 'lib/app/main.JS' } }),
      409,
      'FILE_EXISTS',
    );
    expectError(
      await send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'nope.txt', to: 'x.txt' } }),
      404,
      'FILE_NOT_FOUND',
    );
  });

  it('deletes a file and a folder', async () => {
    const shardId = await createShard(url);
    const one = await expectJson<{ files: FileEntry[] }>(
      await send(url, 'DELETE', filesUrl(shardId, 'index.html')),
      200,
    );
    expect(one.files.map((f) => f.path)).toEqual(['index.html']);
    expectError(await send(url, 'GET', filesUrl(shardId, 'index.html')), 404, 'FILE_NOT_FOUND');

    const folder = await expectJson<{ files: FileEntry[] }>(await send(url, 'DELETE', filesUrl(shardId, 'src')), 200);
    expect(folder.files.map((f) => f.path).sort()).toEqual(['src/counter.js', 'src/main.js', 'src/style.css']);
    const left = await paths(shardId);
    expect(left.some((p) => p.startsWith('src/') || p === 'index.html')).toBe(false);
    expect(left).toContain('package.json');
    expectError(await send(url, 'DELETE', filesUrl(shardId, 'src')), 404, 'FILE_NOT_FOUND');
  });

  it('downloads the shard as a zip of its current text', async () => {
    const shardId = await createShard(url, 'vanilla', 'Zip me: please!');
    await send(url, 'PUT', filesUrl(shardId, 'src/main.js'), { json: { content: 'console.log("edited");\n' } });
    await send(url, 'PUT', filesUrl(shardId, 'notes/ü.txt'), { json: { content: 'ünïcode ✓\n' } });

    const reply = await send(url, 'GET', `/shards/${shardId}/zip`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/zip');
    expect(reply.headers['content-disposition']).toBe('attachment; filename="Zip-me-please-.zip"');
    const entries = unzipSync(new Uint8Array(reply.bytes));
    const unzipped = Object.fromEntries(Object.entries(entries).map(([path, bytes]) => [path, strFromU8(bytes)]));
    expect(unzipped).toEqual((await snapshot(running, shardId)).api.contents);
    expect(unzipped['src/main.js']).toBe('console.log("edited");\n');
    expect(unzipped['notes/ü.txt']).toBe('ünïcode ✓\n');
  });

  it('mints share tokens that work for that shard only, with the access asked for', async () => {
    const shardId = await createShard(url);
    const otherId = await createShard(url);
    const read = await expectJson<{ token: string; access: string }>(
      await send(url, 'POST', `/shards/${shardId}/tokens`, { json: { access: 'read', ttlSeconds: 600 } }),
      201,
    );
    expect(read.access).toBe('read');
    const claims = decodeJwt(read.token);
    expect(claims).toMatchObject({ shards: { [shardId]: 'read' } });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(claims.role).toBeUndefined();

    const viewer = { token: read.token };
    await expectJson(await send(url, 'GET', `/shards/${shardId}`, viewer), 200);
    await expectJson(await send(url, 'GET', filesUrl(shardId, 'index.html'), viewer), 200);
    expect((await send(url, 'GET', `/shards/${shardId}/zip`, viewer)).status).toBe(200);
    expectError(
      await send(url, 'PUT', filesUrl(shardId, 'index.html'), { ...viewer, json: { content: 'x' } }),
      403,
      'READ_ONLY',
    );
    expectError(
      await send(url, 'POST', `/shards/${shardId}/tokens`, { ...viewer, json: { access: 'read' } }),
      403,
      'READ_ONLY',
    );
    expectError(await send(url, 'GET', `/shards/${otherId}`, viewer), 403, 'FORBIDDEN');
    expectError(
      await send(url, 'POST', '/shards', { ...viewer, json: { templateId: 'vanilla', name: 'x' } }),
      403,
      'FORBIDDEN',
    );

    const write = await expectJson<{ token: string }>(
      await send(url, 'POST', `/shards/${shardId}/tokens`, { json: { access: 'write' } }),
      201,
    );
    const editor = { token: write.token };
    await expectJson(
      await send(url, 'PUT', filesUrl(shardId, 'index.html'), { ...editor, json: { content: 'by guest' } }),
      200,
    );
    expect(await content(shardId, 'index.html')).toBe('by guest');
    expectError(
      await send(url, 'PUT', filesUrl(otherId, 'index.html'), { ...editor, json: { content: 'x' } }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await send(url, 'POST', `/shards/${randomUUID()}/tokens`, { json: { access: 'read' } }),
      404,
      'SHARD_NOT_FOUND',
    );
  });

  it('serves /healthz, /readyz and /openapi.json without a token', async () => {
    expect(await expectJson(await send(url, 'GET', '/healthz', { token: null }), 200)).toEqual({ ok: true });
    expect(await expectJson(await send(url, 'GET', '/readyz', { token: null }), 200)).toEqual({ ready: true });
    const spec = await expectJson<{ openapi: string; paths: Record<string, unknown> }>(
      await send(url, 'GET', '/openapi.json', { token: null }),
      200,
    );
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/readyz',
        '/templates',
        '/templates/{id}',
        '/shards',
        '/shards/{id}',
        '/shards/{id}/zip',
      ]),
    );
    expect(Object.keys(spec.paths).some((p) => p.startsWith('/shards/{id}/files'))).toBe(true);
  });

  it('answers an unknown route with 404 NOT_FOUND JSON', async () => {
    expectError(await send(url, 'GET', '/nope', { token: null }), 404, 'NOT_FOUND');
    expectError(await send(url, 'PUT', '/shards'), 404, 'NOT_FOUND');
    expectError(await send(url, 'PUT', `/shards/${randomUUID()}`), 404, 'NOT_FOUND');
  });
}

describe('REST API on SQLite', () => coreCrud('sqlite'));
describe('REST API on PostgreSQL', () => coreCrud('postgres'));

// ---- bad input: every refusal is a JSON error and changes nothing ---------------------------------

describe('REST API refuses bad input and changes nothing', () => {
  const MAX_FILE_BYTES = 4096;
  const BODY_LIMIT_BYTES = 65_536;
  const MAX_FILES = 9;
  const t = useTandem({
    env: {
      MAX_FILE_BYTES: String(MAX_FILE_BYTES),
      HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      MAX_FILES_PER_SHARD: String(MAX_FILES),
    },
  });
  const prefix = t.prefix;
  let running: RunningApp;
  let url: string;
  let shardId: ShardId;
  let baseline: Awaited<ReturnType<typeof snapshot>>;

  function shardCount(): number {
    const sqlite = new Database(t.db.url.slice('sqlite:'.length));
    try {
      return (sqlite.prepare('select count(*) as n from shards').get() as { n: number }).n;
    } finally {
      sqlite.close();
    }
  }

  beforeAll(async () => {
    admin = await adminToken();
    running = t.apps[0]!;
    url = running.url;
    shardId = await createShard(url, 'vanilla', 'target');
    baseline = await snapshot(running, shardId);
    expect(baseline.api.files.length).toBe(7);
    expect(baseline.database).toEqual(baseline.api.contents);
  });

  type Case = [name: string, run: () => Promise<Reply>, status: number, code: string];
  const files = (path: string) => `/shards/${shardId}/files/${path}`;
  const long = 'a'.repeat(600);
  const deep = Array.from({ length: 17 }, (_, i) => `d${i}`).join('/');
  const badBodyPaths: Array<[string, string]> = [
    ['..', '../x.txt'],
    ['nested ..', 'src/../../x.txt'],
    ['%2e%2e', '%2e%2e/x.txt'],
    ['%2F in a segment', '..%2Fetc%2Fpasswd'],
    ['absolute', '/etc/passwd'],
    ['drive letter', 'C:/Windows/x.txt'],
    ['backslash', 'src\\x.txt'],
    ['NUL', 'a\u0000b.txt'],
    ['newline', 'a\nb.txt'],
    ['too long', long],
    ['too deep', deep],
    ['empty', ''],
    ['only dots', './.'],
  ];
  // Raw request paths: sent without any client-side normalisation.
  const badUrlPaths: Array<[string, string]> = [
    ['..', '../x.txt'],
    ['nested ..', 'src/../../x.txt'],
    ['%2e%2e', '%2e%2e/x.txt'],
    ['%2E%2E nested', 'src/%2E%2E/%2E%2E/x.txt'],
    ['double-encoded ..', 'src/%252e%252e/x.txt'],
    ['absolute', '/etc/passwd'],
    ['NUL', 'a%00b.txt'],
    ['control character', 'a%1Bb.txt'],
    ['backslash', 'src%5Cx.txt'],
    ['too long', long],
    ['too deep', deep],
  ];

  const cases: Case[] = [
    // templates and shards
    [
      'unknown template on create',
      () => send(url, 'POST', '/shards', { json: { templateId: 'no-such', name: 'x' } }),
      404,
      'TEMPLATE_NOT_FOUND',
    ],
    ['unknown template read', () => send(url, 'GET', '/templates/..%2F..%2Fetc'), 404, 'TEMPLATE_NOT_FOUND'],
    ['unknown shard (random UUID)', () => send(url, 'GET', `/shards/${randomUUID()}`), 404, 'SHARD_NOT_FOUND'],
    ['unknown shard (not a UUID)', () => send(url, 'GET', '/shards/not-a-uuid'), 404, 'SHARD_NOT_FOUND'],
    [
      'unknown shard (upper-case UUID)',
      () => send(url, 'GET', `/shards/${shardId.toUpperCase()}`),
      404,
      'SHARD_NOT_FOUND',
    ],
    [
      'write to an unknown shard',
      () => send(url, 'PUT', `/shards/${randomUUID()}/files/x.txt`, { json: { content: 'x' } }),
      404,
      'SHARD_NOT_FOUND',
    ],
    [
      'create a file in an unknown shard',
      () => send(url, 'POST', `/shards/${randomUUID()}/files`, { json: { path: 'x.txt' } }),
      404,
      'SHARD_NOT_FOUND',
    ],
    ['zip of an unknown shard', () => send(url, 'GET', `/shards/${randomUUID()}/zip`), 404, 'SHARD_NOT_FOUND'],
    ['delete in a non-UUID shard', () => send(url, 'DELETE', '/shards/../files/x.txt'), 404, 'SHARD_NOT_FOUND'],
    // paths in URLs
    ...badUrlPaths.map(([name, path]): Case => [
      `PUT path: ${name}`,
      () => send(url, 'PUT', files(path), { json: { content: 'x' } }),
      400,
      'PATH_INVALID',
    ]),
    ...badUrlPaths.map(([name, path]): Case => [
      `DELETE path: ${name}`,
      () => send(url, 'DELETE', files(path)),
      400,
      'PATH_INVALID',
    ]),
    ['DELETE the root (empty path)', () => send(url, 'DELETE', files('')), 400, 'PATH_INVALID'],
    ['DELETE "."', () => send(url, 'DELETE', files('.')), 400, 'PATH_INVALID'],
    ['GET path: ..', () => send(url, 'GET', files('../x.txt')), 400, 'PATH_INVALID'],
    // paths in bodies
    ...badBodyPaths.map(([name, path]): Case => [
      `POST file path: ${name}`,
      () => send(url, 'POST', `/shards/${shardId}/files`, { json: { path, content: 'x' } }),
      400,
      'PATH_INVALID',
    ]),
    ...badBodyPaths.map(([name, path]): Case => [
      `move to: ${name}`,
      () => send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'index.html', to: path } }),
      400,
      'PATH_INVALID',
    ]),
    ...badBodyPaths.map(([name, path]): Case => [
      `move from: ${name}`,
      () => send(url, 'POST', `/shards/${shardId}/move`, { json: { from: path, to: 'moved.txt' } }),
      400,
      'PATH_INVALID',
    ]),
    [
      'move onto itself',
      () => send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'src', to: './src/' } }),
      400,
      'PATH_INVALID',
    ],
    [
      'move a folder into itself',
      () => send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'src', to: 'src/inner' } }),
      400,
      'PATH_INVALID',
    ],
    // sizes and counts
    [
      'body over HTTP_BODY_LIMIT_BYTES',
      () => send(url, 'PUT', files('big.txt'), { json: { content: 'x'.repeat(BODY_LIMIT_BYTES + 1) } }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'body over the limit on create',
      () => send(url, 'POST', '/shards', { json: { templateId: 'vanilla', name: 'x'.repeat(BODY_LIMIT_BYTES) } }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'new file over MAX_FILE_BYTES',
      () => send(url, 'PUT', files('big.txt'), { json: { content: 'x'.repeat(MAX_FILE_BYTES + 1) } }),
      413,
      'FILE_TOO_LARGE',
    ],
    [
      'existing file over MAX_FILE_BYTES',
      () => send(url, 'PUT', files('index.html'), { json: { content: 'x'.repeat(MAX_FILE_BYTES + 1) } }),
      413,
      'FILE_TOO_LARGE',
    ],
    [
      'multi-byte text over MAX_FILE_BYTES (bytes, not characters)',
      () => send(url, 'PUT', files('index.html'), { json: { content: '€'.repeat(1400) } }),
      413,
      'FILE_TOO_LARGE',
    ],
    [
      'POST file over MAX_FILE_BYTES',
      () =>
        send(url, 'POST', `/shards/${shardId}/files`, {
          json: { path: 'big.txt', content: 'x'.repeat(MAX_FILE_BYTES + 1) },
        }),
      413,
      'FILE_TOO_LARGE',
    ],
    // authentication
    ['missing token', () => send(url, 'GET', `/shards/${shardId}`, { token: null }), 401, 'UNAUTHENTICATED'],
    ['missing token on templates', () => send(url, 'GET', '/templates', { token: null }), 401, 'UNAUTHENTICATED'],
    [
      'missing token on write',
      () => send(url, 'PUT', files('index.html'), { token: null, json: { content: 'x' } }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'garbage token',
      () => send(url, 'PUT', files('index.html'), { token: 'garbage', json: { content: 'x' } }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'not a bearer header',
      () => send(url, 'GET', `/shards/${shardId}`, { token: null, headers: { authorization: `Basic ${admin}` } }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'wrong signature',
      async () =>
        send(url, 'DELETE', files('index.html'), {
          token: await signed({ sub: 'admin', role: 'admin' }, 'wrong-secret-wrong-secret-wrong-secret-0000'),
        }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'expired token',
      async () =>
        send(url, 'PUT', files('index.html'), {
          token: await signed({ sub: 'admin', role: 'admin' }, undefined, -10),
          json: { content: 'x' },
        }),
      401,
      'TOKEN_EXPIRED',
    ],
    // authorisation
    [
      'shard not in the claims (read)',
      async () =>
        send(url, 'GET', `/shards/${shardId}`, { token: await tokenFor({ shards: { [randomUUID()]: 'write' } }) }),
      403,
      'FORBIDDEN',
    ],
    [
      'shard not in the claims (write)',
      async () =>
        send(url, 'PUT', files('index.html'), {
          token: await tokenFor({ shards: { [randomUUID()]: 'write' } }),
          json: { content: 'x' },
        }),
      403,
      'FORBIDDEN',
    ],
    [
      'shard not in the claims (zip)',
      async () => send(url, 'GET', `/shards/${shardId}/zip`, { token: await tokenFor() }),
      403,
      'FORBIDDEN',
    ],
    [
      'viewer PUT',
      async () => send(url, 'PUT', files('index.html'), { token: await viewer(), json: { content: 'x' } }),
      403,
      'READ_ONLY',
    ],
    [
      'viewer POST file',
      async () => send(url, 'POST', `/shards/${shardId}/files`, { token: await viewer(), json: { path: 'new.txt' } }),
      403,
      'READ_ONLY',
    ],
    [
      'viewer move',
      async () =>
        send(url, 'POST', `/shards/${shardId}/move`, {
          token: await viewer(),
          json: { from: 'index.html', to: 'x.html' },
        }),
      403,
      'READ_ONLY',
    ],
    [
      'viewer DELETE',
      async () => send(url, 'DELETE', files('index.html'), { token: await viewer() }),
      403,
      'READ_ONLY',
    ],
    [
      'viewer share token',
      async () => send(url, 'POST', `/shards/${shardId}/tokens`, { token: await viewer(), json: { access: 'write' } }),
      403,
      'READ_ONLY',
    ],
    [
      'wildcard reader PUT',
      async () =>
        send(url, 'PUT', files('index.html'), {
          token: await tokenFor({ shards: { '*': 'read' } }),
          json: { content: 'x' },
        }),
      403,
      'READ_ONLY',
    ],
    [
      'user without create rights POST /shards',
      async () =>
        send(url, 'POST', '/shards', {
          token: await tokenFor({ shards: { '*': 'write' } }),
          json: { templateId: 'vanilla', name: 'x' },
        }),
      403,
      'FORBIDDEN',
    ],
    // malformed bodies
    [
      'malformed JSON',
      () => send(url, 'PUT', files('index.html'), { body: '{"content": "x"', contentType: 'application/json' }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'malformed JSON on create',
      () => send(url, 'POST', '/shards', { body: '{templateId: vanilla}', contentType: 'application/json' }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'empty JSON body',
      () => send(url, 'PUT', files('index.html'), { body: '', contentType: 'application/json' }),
      400,
      'VALIDATION_FAILED',
    ],
    ['no body', () => send(url, 'PUT', files('index.html')), 400, 'VALIDATION_FAILED'],
    [
      'not JSON',
      () =>
        send(url, 'PUT', files('index.html'), { body: 'content=x', contentType: 'application/x-www-form-urlencoded' }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'content is a number',
      () => send(url, 'PUT', files('index.html'), { json: { content: 42 } }),
      400,
      'VALIDATION_FAILED',
    ],
    ['content missing', () => send(url, 'PUT', files('index.html'), { json: {} }), 400, 'VALIDATION_FAILED'],
    [
      'unknown field',
      () => send(url, 'PUT', files('index.html'), { json: { content: 'x', mode: 'append' } }),
      400,
      'VALIDATION_FAILED',
    ],
    ['body is an array', () => send(url, 'PUT', files('index.html'), { json: ['x'] }), 400, 'VALIDATION_FAILED'],
    ['body is null', () => send(url, 'PUT', files('index.html'), { json: null }), 400, 'VALIDATION_FAILED'],
    [
      'create without a name',
      () => send(url, 'POST', '/shards', { json: { templateId: 'vanilla' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'create with a blank name',
      () => send(url, 'POST', '/shards', { json: { templateId: 'vanilla', name: '   ' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'POST file with a non-string path',
      () => send(url, 'POST', `/shards/${shardId}/files`, { json: { path: ['a'], content: 'x' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'move without "to"',
      () => send(url, 'POST', `/shards/${shardId}/move`, { json: { from: 'index.html' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'share with an unknown access',
      () => send(url, 'POST', `/shards/${shardId}/tokens`, { json: { access: 'admin' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'share with a too short TTL',
      () => send(url, 'POST', `/shards/${shardId}/tokens`, { json: { access: 'read', ttlSeconds: 5 } }),
      400,
      'VALIDATION_FAILED',
    ],
  ];

  function signed(
    claims: Record<string, unknown>,
    secret = 'test-secret-test-secret-test-secret-0123456789',
    expInSeconds = 600,
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now - 60)
      .setExpirationTime(now + expInSeconds)
      .sign(new TextEncoder().encode(secret));
  }

  function viewer(): Promise<string> {
    return tokenFor({ shards: { [shardId]: 'read' } });
  }

  it.each(cases)('%s → %i %s', async (_name, run, status, code) => {
    const shardsBefore = shardCount();
    expectError(await run(), status, code);
    expect(await snapshot(running, shardId)).toEqual(baseline);
    expect(shardCount()).toBe(shardsBefore);
  });

  it('leaves no Redis keys behind for a shard that does not exist', async () => {
    const ghost = randomUUID();
    expectError(
      await send(url, 'PUT', `/shards/${ghost}/files/x.txt`, { json: { content: 'x' } }),
      404,
      'SHARD_NOT_FOUND',
    );
    expectError(
      await send(url, 'POST', `/shards/${ghost}/move`, { json: { from: 'a', to: 'b' } }),
      404,
      'SHARD_NOT_FOUND',
    );
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}*${ghost}*`)).toEqual([]);
    } finally {
      await redis.quit();
    }
  });

  it('refuses the file after MAX_FILES_PER_SHARD with 409 TOO_MANY_FILES', async () => {
    const full = await createShard(url, 'vanilla', 'full');
    await expectJson(await send(url, 'PUT', `/shards/${full}/files/eight.txt`, { json: { content: '8' } }), 201);
    await expectJson(
      await send(url, 'POST', `/shards/${full}/files`, { json: { path: 'nine.txt', content: '9' } }),
      201,
    );
    const before = (await snapshot(running, full)).api;
    expect(before.files).toHaveLength(MAX_FILES);

    expectError(await send(url, 'POST', `/shards/${full}/files`, { json: { path: 'ten.txt' } }), 409, 'TOO_MANY_FILES');
    expectError(
      await send(url, 'PUT', `/shards/${full}/files/ten.txt`, { json: { content: '10' } }),
      409,
      'TOO_MANY_FILES',
    );
    expect((await snapshot(running, full)).api).toEqual(before);

    // At the limit, existing files can still be edited, moved, and deleted to make room.
    await expectJson(await send(url, 'PUT', `/shards/${full}/files/eight.txt`, { json: { content: 'eight' } }), 200);
    await expectJson(
      await send(url, 'POST', `/shards/${full}/move`, { json: { from: 'eight.txt', to: 'viii.txt' } }),
      200,
    );
    await expectJson(await send(url, 'DELETE', `/shards/${full}/files/nine.txt`), 200);
    await expectJson(await send(url, 'POST', `/shards/${full}/files`, { json: { path: 'ten.txt' } }), 201);
  });

  // MAX_FILE_BYTES bounds the text, not its Yjs encoding (a few bytes larger).
  it('accepts a file of exactly MAX_FILE_BYTES', async () => {
    const shard = await createShard(url);
    await expectJson(
      await send(url, 'PUT', `/shards/${shard}/files/max.txt`, { json: { content: 'x'.repeat(MAX_FILE_BYTES) } }),
      201,
    );
  });

  // The Yjs history between two syncs has its own, larger budget (4 × MAX_FILE_BYTES), so a file
  // near the limit can be rewritten several times before the next compaction.
  it('lets a file near MAX_FILE_BYTES be rewritten several times', async () => {
    const shard = await createShard(url);
    const size = Math.floor(MAX_FILE_BYTES * 0.75);
    for (const ch of ['a', 'b', 'c']) {
      const reply = await send(url, 'PUT', `/shards/${shard}/files/index.html`, { json: { content: ch.repeat(size) } });
      expect(reply.status, `rewrite with ${ch}: ${reply.text.slice(0, 200)}`).toBe(200);
    }
  });
});

// ---- readiness during shutdown ---------------------------------------------------------------

describe('REST API during shutdown', () => {
  it('answers 503 on /readyz and on API routes once close() has begun', async () => {
    admin = await adminToken();
    const db = await createTestDatabase('sqlite');
    const running = await startTestApp({ prefix: uniquePrefix(), databaseUrl: db.url });
    try {
      expect((await running.app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const closing = running.app.close();
      // close() flips readiness before its first await; the listener is still open here.
      const [readyz, templates, healthz] = await Promise.all([
        running.app.http.inject({ method: 'GET', url: '/readyz' }),
        running.app.http.inject({ method: 'GET', url: '/templates', headers: { authorization: `Bearer ${admin}` } }),
        running.app.http.inject({ method: 'GET', url: '/healthz' }),
      ]);
      expect(readyz.statusCode).toBe(503);
      expect(readyz.json()).toEqual({ ready: false, reason: expect.any(String) });
      expect(templates.statusCode).toBe(503);
      expect(templates.json()).toEqual({ error: { code: 'UNAVAILABLE', message: expect.any(String) } });
      expect(healthz.statusCode).toBe(200);
      await closing;
      await expect(fetch(`${running.url}/readyz`)).rejects.toThrow();
    } finally {
      await running.app.close();
      await db.drop();
    }
  });
});
