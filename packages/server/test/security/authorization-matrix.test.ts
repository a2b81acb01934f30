import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { SignJWT } from 'jose';
import type { Ack, FileEntry, ShardDetail, ShardId } from '@tandem/protocol';
import { adminToken, createShard, tokenFor, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

// ---- the expected matrix (also in docs/protocol.md, "Authorization"; a test below keeps them equal)

/** The kinds of credentials every route and event is tried with, in column order. */
const KINDS = ['none', 'expired', 'badSignature', 'otherShard', 'viewer', 'editor', 'admin'] as const;
type Kind = (typeof KINDS)[number];

const KIND_HEADINGS: Record<Kind, string> = {
  none: 'no token',
  expired: 'expired',
  badSignature: 'wrong signature',
  otherShard: 'other shard',
  viewer: 'viewer (read)',
  editor: 'editor (write)',
  admin: 'admin',
};

/** REST: a cell is the status, followed by the error code when the request is refused. */
// prettier-ignore
const REST_MATRIX: ReadonlyArray<{ route: string; expect: readonly string[] }> = [
  { route: 'GET /healthz',                expect: ['200', '200', '200', '200', '200', '200', '200'] },
  { route: 'GET /readyz',                 expect: ['200', '200', '200', '200', '200', '200', '200'] },
  { route: 'GET /openapi.json',           expect: ['200', '200', '200', '200', '200', '200', '200'] },
  { route: 'GET /metrics',                expect: ['200', '200', '200', '200', '200', '200', '200'] },
  { route: 'GET /templates',              expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '200', '200', '200', '200'] },
  { route: 'GET /templates/:id',          expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '200', '200', '200', '200'] },
  { route: 'POST /shards',                expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '201'] },
  { route: 'POST /shards/import',         expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '201'] },
  { route: 'GET /shards/:id',             expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'GET /shards/:id/zip',         expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'GET /shards/:id/files/*',     expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'POST /shards/:id/tokens',     expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '201', '201'] },
  { route: 'GET /shards/:id/tokens',        expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'DELETE /shards/:id/tokens/:linkId', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'DELETE /shards/:id/tokens',     expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'PUT /shards/:id/files/*',     expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '201', '201'] },
  { route: 'POST /shards/:id/files',      expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '201', '201'] },
  { route: 'DELETE /shards/:id/files/*',  expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'POST /shards/:id/move',       expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'GET /shards/:id/checkpoints', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'POST /shards/:id/checkpoints', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '201', '201'] },
  { route: 'GET /shards/:id/checkpoints/:seq', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'GET /shards/:id/checkpoints/:seq/files/*', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'GET /shards/:id/checkpoints/:seq/diff', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'POST /shards/:id/checkpoints/:seq/restore', expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'GET /shards',                 expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '200', '200', '200', '200'] },
  { route: 'PATCH /shards/:id',           expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 READ_ONLY', '200', '200'] },
  { route: 'POST /shards/:id/fork',       expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '201'] },
  { route: 'GET /shards/:id/search',      expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '200', '200', '200'] },
  { route: 'DELETE /shards/:id',          expect: ['401 UNAUTHENTICATED', '401 TOKEN_EXPIRED', '401 UNAUTHENTICATED', '403 FORBIDDEN', '403 FORBIDDEN', '403 FORBIDDEN', '200'] },
];

/**
 * Sockets: `connect_error <code>` = the handshake is refused with `err.data.code`; otherwise the
 * ack of the event, sent after a `shard:join` of the target shard on the same socket (which itself
 * succeeds or fails as the `shard:join` row says): `ok`, or the error code.
 */
// prettier-ignore
const SOCKET_MATRIX: ReadonlyArray<{ event: string; expect: readonly string[] }> = [
  { event: 'shard:join',      expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'FORBIDDEN', 'ok', 'ok', 'ok'] },
  { event: 'shard:leave',     expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'ok', 'ok', 'ok', 'ok'] },
  { event: 'file:sync',       expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'ok', 'ok', 'ok'] },
  { event: 'file:edit',       expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'READ_ONLY', 'ok', 'ok'] },
  { event: 'file:create',     expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'READ_ONLY', 'ok', 'ok'] },
  { event: 'file:rename',     expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'READ_ONLY', 'ok', 'ok'] },
  { event: 'file:delete',     expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'READ_ONLY', 'ok', 'ok'] },
  { event: 'presence:update', expect: ['connect_error UNAUTHENTICATED', 'connect_error TOKEN_EXPIRED', 'connect_error UNAUTHENTICATED', 'NOT_JOINED', 'ok', 'ok', 'ok'] },
];

/** The markdown rows docs/protocol.md must contain, built from the matrices above. */
function markdownRows(): string[] {
  const rest = REST_MATRIX.map((r) => `| \`${r.route}\` | ${r.expect.join(' | ')} |`);
  const socket = SOCKET_MATRIX.map((r) => `| \`${r.event}\` | ${r.expect.join(' | ')} |`);
  const header = `| ${KINDS.map((k) => KIND_HEADINGS[k]).join(' | ')} |`;
  return [`| REST route ${header}`, ...rest, `| socket event ${header}`, ...socket];
}

// ---- the run -------------------------------------------------------------------------------------

const WRONG_SECRET = 'not-the-test-secret-not-the-test-secret-0123';

type Context = {
  url: string;
  shardId: ShardId;
  otherShardId: ShardId;
  admin: string;
  editableId: string;
  controlId: string;
  /** Per kind, a share link of the shard that kind's DELETE …/tokens/:linkId cell tries to revoke. */
  links: Map<Kind, string>;
  /** The shard the admin's DELETE /shards/:id cell deletes (the others try the matrix's own shard). */
  deletableId: ShardId;
};

/** A REST call for one cell, and how to check that it had (or had not) its effect. */
type RestCase = {
  method: string;
  path: string;
  body?: unknown;
  /** A raw body with its content type (a zip upload), instead of JSON. */
  raw?: { bytes: Uint8Array; contentType: string };
  /** Runs after the call with the expected outcome; checks the shard as an admin sees it. */
  verify?: (allowed: boolean) => Promise<void>;
};

describe('authorization matrix', () => {
  const t = useTandem();
  let server: RunningApp;
  let ctx: Context;
  const tokens = new Map<Kind, string | undefined>();
  let controlBefore: string;

  async function adminGet<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${ctx.admin}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function tree(): Promise<string[]> {
    const { body } = await adminGet<{ shard: ShardDetail }>(`/shards/${ctx.shardId}`);
    return body.shard.files.map((f) => f.path);
  }

  async function text(path: string): Promise<string> {
    const res = await fetch(`${server.url}/shards/${ctx.shardId}/files/${path}?raw`, {
      headers: { authorization: `Bearer ${ctx.admin}` },
    });
    return res.text();
  }

  async function adminCreate(path: string, content = ''): Promise<FileEntry> {
    const res = await fetch(`${server.url}/shards/${ctx.shardId}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ path, content }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { file: FileEntry }).file;
  }

  const exists = async (path: string) => (await tree()).includes(path);

  async function adminWrite(path: string, content: string): Promise<void> {
    const res = await fetch(`${server.url}/shards/${ctx.shardId}/files/${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content }),
    });
    expect(res.status).toBe(200);
  }

  async function mintLink(): Promise<string> {
    const res = await fetch(`${server.url}/shards/${ctx.shardId}/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ access: 'read' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { link: { id: string } }).link.id;
  }

  async function isLinkLive(kind: Kind): Promise<boolean> {
    const { body } = await adminGet<{ links: Array<{ id: string }> }>(`/shards/${ctx.shardId}/tokens`);
    return body.links.some((l) => l.id === ctx.links.get(kind));
  }

  beforeAll(async () => {
    server = t.apps[0]!;
    const admin = await adminToken();
    const shardId = await createShard(server.url);
    const otherShardId = await createShard(server.url, 'vanilla', 'someone else');
    const deletableId = await createShard(server.url, 'vanilla', 'the admin deletes this one');
    ctx = {
      url: server.url,
      shardId,
      otherShardId,
      admin,
      editableId: '',
      controlId: '',
      links: new Map(),
      deletableId,
    };
    const editor = await tokenFor({ sub: 'matrix-editor', shards: { [shardId]: 'write' } });
    tokens.set('none', undefined);
    tokens.set('expired', await tokenFor({ sub: 'matrix-expired', shards: { [shardId]: 'write' } }, -10));
    tokens.set(
      'badSignature',
      await new SignJWT({ sub: 'matrix-editor', shards: { [shardId]: 'write' } })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(WRONG_SECRET)),
    );
    tokens.set('otherShard', await tokenFor({ sub: 'matrix-other', shards: { [otherShardId]: 'write' } }));
    tokens.set('viewer', await tokenFor({ sub: 'matrix-viewer', shards: { [shardId]: 'read' } }));
    tokens.set('editor', editor);
    tokens.set('admin', admin);
    // The files each writing cell works on, one per kind, so every cell starts from a known state.
    for (const kind of KINDS) {
      for (const path of [`del-${kind}.txt`, `mv-src-${kind}.txt`, `sock-del-${kind}.txt`, `sock-mv-${kind}.txt`])
        await adminCreate(path);
    }
    for (const kind of KINDS) ctx.links.set(kind, await mintLink());
    ctx.editableId = (await adminCreate('editable.txt')).id;
    ctx.controlId = (await adminCreate('control.txt', 'nobody may change this\n')).id;
    await adminWrite('index.html', 'changed before the restore cells\n');
    controlBefore = await text('control.txt');
  });

  it('is written down in docs/protocol.md', () => {
    const docs = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## 15. Authorization'));
    expect(section.startsWith('## 15. Authorization')).toBe(true);
    for (const row of markdownRows()) expect(section, 'docs/protocol.md, section 15').toContain(row);
  });

  // ---- REST ------------------------------------------------------------------------------------

  it('covers every route of the OpenAPI document', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace('{*}', '*').replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThan(10);
    expect(REST_MATRIX.map((r) => r.route)).toEqual(expect.arrayContaining(documented));
  });

  const restCases: Record<string, (kind: Kind) => RestCase> = {
    'GET /healthz': () => ({ method: 'GET', path: '/healthz' }),
    'GET /readyz': () => ({ method: 'GET', path: '/readyz' }),
    'GET /openapi.json': () => ({ method: 'GET', path: '/openapi.json' }),
    'GET /metrics': () => ({ method: 'GET', path: '/metrics' }),
    'GET /templates': () => ({ method: 'GET', path: '/templates' }),
    'GET /templates/:id': () => ({ method: 'GET', path: '/templates/vanilla' }),
    'POST /shards': (kind) => ({
      method: 'POST',
      path: '/shards',
      body: { templateId: 'vanilla', name: `by ${kind}` },
    }),
    'POST /shards/import': () => ({
      method: 'POST',
      path: '/shards/import',
      raw: {
        bytes: zipSync({ 'index.html': new TextEncoder().encode('<p>imported</p>') }),
        contentType: 'application/zip',
      },
    }),
    'GET /shards/:id': () => ({ method: 'GET', path: `/shards/${ctx.shardId}` }),
    'GET /shards/:id/zip': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/zip` }),
    'GET /shards/:id/files/*': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/files/control.txt` }),
    'POST /shards/:id/tokens': () => ({
      method: 'POST',
      path: `/shards/${ctx.shardId}/tokens`,
      body: { access: 'read' },
    }),
    'GET /shards/:id/tokens': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/tokens` }),
    'DELETE /shards/:id/tokens/:linkId': (kind) => ({
      method: 'DELETE',
      path: `/shards/${ctx.shardId}/tokens/${ctx.links.get(kind) ?? ''}`,
      verify: async (allowed) => expect(await isLinkLive(kind)).toBe(!allowed),
    }),
    'DELETE /shards/:id/tokens': () => ({ method: 'DELETE', path: `/shards/${ctx.shardId}/tokens` }),
    'PUT /shards/:id/files/*': (kind) => ({
      method: 'PUT',
      path: `/shards/${ctx.shardId}/files/put-${kind}.txt`,
      body: { content: `written by ${kind}` },
      verify: async (allowed) => expect(await exists(`put-${kind}.txt`)).toBe(allowed),
    }),
    'POST /shards/:id/files': (kind) => ({
      method: 'POST',
      path: `/shards/${ctx.shardId}/files`,
      body: { path: `post-${kind}.txt`, content: '' },
      verify: async (allowed) => expect(await exists(`post-${kind}.txt`)).toBe(allowed),
    }),
    'DELETE /shards/:id/files/*': (kind) => ({
      method: 'DELETE',
      path: `/shards/${ctx.shardId}/files/del-${kind}.txt`,
      verify: async (allowed) => expect(await exists(`del-${kind}.txt`)).toBe(!allowed),
    }),
    'GET /shards/:id/checkpoints': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/checkpoints` }),
    'POST /shards/:id/checkpoints': (kind) => ({
      method: 'POST',
      path: `/shards/${ctx.shardId}/checkpoints`,
      body: { label: `named by ${kind}` },
      verify: async (allowed) => {
        const { body } = await adminGet<{ checkpoints: Array<{ label: string | null }> }>(
          `/shards/${ctx.shardId}/checkpoints`,
        );
        expect(body.checkpoints.some((c) => c.label === `named by ${kind}`)).toBe(allowed);
      },
    }),
    'GET /shards/:id/checkpoints/:seq': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/checkpoints/1` }),
    'GET /shards/:id/checkpoints/:seq/files/*': () => ({
      method: 'GET',
      path: `/shards/${ctx.shardId}/checkpoints/1/files/index.html`,
    }),
    'GET /shards/:id/checkpoints/:seq/diff': () => ({
      method: 'GET',
      path: `/shards/${ctx.shardId}/checkpoints/1/diff?path=index.html`,
    }),
    'POST /shards/:id/checkpoints/:seq/restore': (kind) => ({
      method: 'POST',
      path: `/shards/${ctx.shardId}/checkpoints/1/restore`,
      body: { path: 'index.html' },
      // index.html differs from checkpoint 1 before every cell; a restore that ran put it back.
      verify: async (allowed) => {
        const { body } = await adminGet<{ content: string }>(`/shards/${ctx.shardId}/checkpoints/1/files/index.html`);
        expect((await text('index.html')) === body.content).toBe(allowed);
        await adminWrite('index.html', `changed after the ${kind} cell\n`);
      },
    }),
    'POST /shards/:id/move': (kind) => ({
      method: 'POST',
      path: `/shards/${ctx.shardId}/move`,
      body: { from: `mv-src-${kind}.txt`, to: `mv-dst-${kind}.txt` },
      verify: async (allowed) => {
        const paths = await tree();
        expect({ src: paths.includes(`mv-src-${kind}.txt`), dst: paths.includes(`mv-dst-${kind}.txt`) }).toEqual({
          src: !allowed,
          dst: allowed,
        });
      },
    }),
    'GET /shards': () => ({ method: 'GET', path: '/shards' }),
    'PATCH /shards/:id': (kind) => ({
      method: 'PATCH',
      path: `/shards/${ctx.shardId}`,
      body: { name: `renamed by ${kind}` },
      verify: async (allowed) => {
        const { body } = await adminGet<{ shard: ShardDetail }>(`/shards/${ctx.shardId}`);
        expect(body.shard.name === `renamed by ${kind}`).toBe(allowed);
      },
    }),
    'POST /shards/:id/fork': () => ({ method: 'POST', path: `/shards/${ctx.shardId}/fork`, body: {} }),
    'GET /shards/:id/search': () => ({ method: 'GET', path: `/shards/${ctx.shardId}/search?q=nobody` }),
    'DELETE /shards/:id': (kind) => {
      const target = kind === 'admin' ? ctx.deletableId : ctx.shardId;
      return {
        method: 'DELETE',
        path: `/shards/${target}`,
        verify: async (allowed) => expect((await adminGet(`/shards/${target}`)).status).toBe(allowed ? 404 : 200),
      };
    },
  };

  async function restCell(route: string, kind: Kind): Promise<string> {
    const build = restCases[route];
    if (build === undefined) throw new Error(`no request for ${route}`);
    const c = build(kind);
    const token = tokens.get(kind);
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    if (c.raw !== undefined) headers['content-type'] = c.raw.contentType;
    const res = await fetch(`${ctx.url}${c.path}`, {
      method: c.method,
      headers,
      ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
      ...(c.raw === undefined ? {} : { body: new Blob([c.raw.bytes as Uint8Array<ArrayBuffer>]) }),
    });
    const raw = await res.text();
    const allowed = res.status < 400;
    await c.verify?.(allowed);
    if (allowed) return String(res.status);
    const body = JSON.parse(raw) as { error?: { code?: string } };
    return `${res.status} ${body.error?.code ?? '(no code)'}`;
  }

  it.each(REST_MATRIX.map((r) => [r.route, r] as const))('REST %s', async (_route, row) => {
    const actual: string[] = [];
    for (const kind of KINDS) actual.push(await restCell(row.route, kind));
    expect(actual).toEqual(row.expect);
  });

  // ---- sockets -----------------------------------------------------------------------------------

  async function connect(token: string | undefined): Promise<{ socket: Socket } | { refused: string }> {
    const socket = io(ctx.url, {
      transports: ['websocket'],
      auth: token === undefined ? {} : { token },
      reconnection: false,
    });
    return new Promise((resolve) => {
      socket.once('connect', () => resolve({ socket }));
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
        socket.close();
        resolve({ refused: error.data?.code ?? '(no code)' });
      });
    });
  }

  async function call(socket: Socket, event: string, payload: unknown): Promise<Ack<unknown>> {
    return (await socket.timeout(5000).emitWithAck(event, payload)) as Ack<unknown>;
  }

  function editUpdate(marker: string): Uint8Array {
    const doc = new Y.Doc();
    doc.getText('content').insert(0, marker);
    return Y.encodeStateAsUpdate(doc);
  }

  function presenceUpdate(kind: Kind): Uint8Array {
    const awareness = new Awareness(new Y.Doc());
    awareness.setLocalState({ user: { id: kind, name: kind, color: '#123456' } });
    const update = encodeAwarenessUpdate(awareness, [awareness.clientID]);
    awareness.destroy();
    return update;
  }

  const socketCases: Record<
    string,
    (kind: Kind) => { payload: unknown; verify?: (allowed: boolean) => Promise<void> }
  > = {
    'shard:join': () => ({ payload: { shardId: ctx.shardId } }),
    'shard:leave': () => ({ payload: { shardId: ctx.shardId } }),
    'file:sync': () => ({
      payload: { shardId: ctx.shardId, fileId: ctx.editableId, stateVector: Y.encodeStateVector(new Y.Doc()) },
    }),
    'file:edit': (kind) => ({
      payload: { shardId: ctx.shardId, fileId: ctx.editableId, update: editUpdate(`<edit by ${kind}>`) },
      verify: async (allowed) => expect((await text('editable.txt')).includes(`<edit by ${kind}>`)).toBe(allowed),
    }),
    'file:create': (kind) => ({
      payload: { shardId: ctx.shardId, path: `sock-create-${kind}.txt` },
      verify: async (allowed) => expect(await exists(`sock-create-${kind}.txt`)).toBe(allowed),
    }),
    'file:rename': (kind) => ({
      payload: { shardId: ctx.shardId, from: `sock-mv-${kind}.txt`, to: `sock-mv-done-${kind}.txt` },
      verify: async (allowed) => {
        const paths = await tree();
        expect({ src: paths.includes(`sock-mv-${kind}.txt`), dst: paths.includes(`sock-mv-done-${kind}.txt`) }).toEqual(
          {
            src: !allowed,
            dst: allowed,
          },
        );
      },
    }),
    'file:delete': (kind) => ({
      payload: { shardId: ctx.shardId, path: `sock-del-${kind}.txt` },
      verify: async (allowed) => expect(await exists(`sock-del-${kind}.txt`)).toBe(!allowed),
    }),
    'presence:update': (kind) => ({ payload: { shardId: ctx.shardId, update: presenceUpdate(kind) } }),
  };

  async function socketCell(event: string, kind: Kind): Promise<string> {
    const build = socketCases[event];
    if (build === undefined) throw new Error(`no payload for ${event}`);
    const c = build(kind);
    const connected = await connect(tokens.get(kind));
    if ('refused' in connected) {
      await c.verify?.(false);
      return `connect_error ${connected.refused}`;
    }
    const { socket } = connected;
    try {
      let ack: Ack<unknown>;
      const join = await call(socket, 'shard:join', { shardId: ctx.shardId });
      if (event === 'shard:join') {
        ack = join;
      } else {
        ack = await call(socket, event, c.payload);
      }
      await c.verify?.(ack.ok);
      return ack.ok ? 'ok' : ack.error.code;
    } finally {
      socket.close();
    }
  }

  it.each(SOCKET_MATRIX.map((r) => [r.event, r] as const))('socket %s', async (_event, row) => {
    const actual: string[] = [];
    for (const kind of KINDS) actual.push(await socketCell(row.event, kind));
    expect(actual).toEqual(row.expect);
  });

  it('left the control file nobody may write byte-identical', async () => {
    expect(await text('control.txt')).toBe(controlBefore);
  });

  // ---- expiry in the middle of a session ---------------------------------------------------------

  it('ends write access when the token expires mid-session', async () => {
    // exp is whole seconds: this token expires 1–2 s from now.
    const token = await tokenFor({ sub: 'matrix-short-lived', shards: { [ctx.shardId]: 'write' } }, 2);
    const connected = await connect(token);
    if ('refused' in connected) throw new Error(`handshake refused: ${connected.refused}`);
    const { socket } = connected;
    const notices: Array<{ code: string }> = [];
    socket.on('shard:error', (notice: { error: { code: string } }) => notices.push(notice.error));
    let disconnectReason: string | undefined;
    socket.on('disconnect', (reason) => (disconnectReason = reason));
    try {
      expect((await call(socket, 'shard:join', { shardId: ctx.shardId })).ok).toBe(true);
      const before = await call(socket, 'file:edit', {
        shardId: ctx.shardId,
        fileId: ctx.editableId,
        update: editUpdate('<before expiry>'),
      });
      expect(before.ok).toBe(true);
      expect(await text('editable.txt')).toContain('<before expiry>');

      await waitFor(() => disconnectReason !== undefined, 5000, 'disconnect at expiry');
      expect(notices).toEqual([expect.objectContaining({ code: 'TOKEN_EXPIRED' })]);
      expect(disconnectReason).toBe('io server disconnect');

      // The socket is gone: an edit sent now is never acknowledged and never lands.
      await expect(
        socket.timeout(1000).emitWithAck('file:edit', {
          shardId: ctx.shardId,
          fileId: ctx.editableId,
          update: editUpdate('<after expiry>'),
        }),
      ).rejects.toThrow();
      // Reconnecting with the same token is refused.
      socket.connect();
      const refused = await new Promise<string | undefined>((resolve) =>
        socket.once('connect_error', (error: Error & { data?: { code?: string } }) => resolve(error.data?.code)),
      );
      expect(refused).toBe('TOKEN_EXPIRED');
      expect(await text('editable.txt')).not.toContain('<after expiry>');
    } finally {
      socket.close();
    }
  });
});
