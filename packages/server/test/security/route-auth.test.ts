import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { io } from 'socket.io-client';
import type { ShardId } from '@tandem/protocol';
import {
  adminToken,
  createShard,
  createTestDatabase,
  startTestApp,
  TEST_JWT_SECRET,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../support/test-app.js';
import { closeAgent, rawRequest } from '../fuzz/fuzz-support.js';

/** Routes anyone may call; every other route of the OpenAPI document needs a token. */
const PUBLIC = new Set(['GET /healthz', 'GET /readyz', 'GET /openapi.json', 'GET /metrics']);

/** Percent-encodes every character of a path segment (letters included). */
function encodeAll(segment: string): string {
  return [...Buffer.from(segment, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/**
 * Spellings of one request path that a router may decode to the same route: one letter escaped
 * (upper and lower hex), every letter of a segment escaped, each segment in turn.
 */
function encodedVariants(path: string): string[] {
  const segments = path.split('/');
  const variants = new Set<string>();
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const letter = /[A-Za-z]/.exec(segment);
    if (letter === null) continue;
    const at = letter.index;
    const hex = segment.charCodeAt(at).toString(16);
    for (const escaped of [`%${hex.toLowerCase()}`, `%${hex.toUpperCase()}`]) {
      const copy = [...segments];
      copy[i] = `${segment.slice(0, at)}${escaped}${segment.slice(at + 1)}`;
      variants.add(copy.join('/'));
    }
    const all = [...segments];
    all[i] = encodeAll(segment);
    variants.add(all.join('/'));
  }
  return [...variants];
}

async function signedWithJunk(bytes: number): Promise<string> {
  return new SignJWT({ sub: 'big', role: 'admin', junk: 'x'.repeat(bytes) })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

describe('authorization on the routed path, and token size', () => {
  const prefix = uniquePrefix();
  let db: TestDatabase;
  let server: RunningApp;
  let shardId: ShardId;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    server = await startTestApp({ prefix, databaseUrl: db.url });
    shardId = await createShard(server.url);
    const put = await fetch(`${server.url}/shards/${shardId}/files/index.html`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: '<h1>secret</h1>' }),
    });
    expect(put.ok).toBe(true);
  });

  afterAll(async () => {
    closeAgent();
    await server?.app.close();
    await db?.drop();
  });

  it('refuses every encoded spelling of every protected route without a token (GET /%74emplates was 200)', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
    expect(routes.length).toBeGreaterThan(10);
    const leaks: string[] = [];
    let tried = 0;
    let routed = 0;
    for (const { method, path } of routes) {
      const name = `${method} ${path.replace('{*}', '*').replace(/\{(\w+)\}/g, ':$1')}`;
      if (PUBLIC.has(name)) continue;
      const concrete = path
        .replace('{id}', shardId)
        .replace('{linkId}', '00000000-0000-4000-8000-000000000000')
        .replace('{*}', 'index.html');
      for (const variant of [concrete, ...encodedVariants(concrete)]) {
        tried++;
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
        const res = await rawRequest(server.url, {
          method,
          path: variant,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body }),
        });
        // 401: the router found the route and the token check ran. 404/400: no route by that
        // spelling. Anything else answered a protected route without a token.
        if (res.status === 401) routed++;
        else if (res.status !== 404 && res.status !== 400) leaks.push(`${method} ${variant} → ${res.status}`);
      }
    }
    expect(leaks).toEqual([]);
    // The router decodes escapes: most spellings reach the route (and are refused there).
    expect(routed).toBeGreaterThan(tried / 2);
  });

  it('refuses /%74emplates and /%2574emplates specifically', async () => {
    expect((await rawRequest(server.url, { method: 'GET', path: '/%74emplates' })).status).toBe(401);
    expect((await rawRequest(server.url, { method: 'GET', path: '/%74emplates/vanilla' })).status).toBe(401);
    // Double encoding names a different path: no route, never the templates.
    expect((await rawRequest(server.url, { method: 'GET', path: '/%2574emplates' })).status).toBe(404);
  });

  it('refuses a token over AUTH_MAX_TOKEN_BYTES on REST with 413 PAYLOAD_TOO_LARGE', async () => {
    const token = await signedWithJunk(8 * 1024); // ~11 KiB once encoded: under the HTTP header limit
    const res = await fetch(`${server.url}/shards/${shardId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
    // Just under the limit is fine.
    const small = await signedWithJunk(5 * 1024);
    expect(
      (await fetch(`${server.url}/shards/${shardId}`, { headers: { authorization: `Bearer ${small}` } })).status,
    ).toBe(200);
  });

  it('refuses a 4 MiB token in the socket handshake with PAYLOAD_TOO_LARGE', async () => {
    const token = await signedWithJunk(4 * 1024 * 1024);
    const socket = io(server.url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
    try {
      const outcome = await new Promise<string>((resolve) => {
        socket.once('connect', () => resolve('connected'));
        socket.once('connect_error', (error: Error & { data?: { code?: string } }) =>
          resolve(error.data?.code ?? error.message),
        );
      });
      expect(outcome).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      socket.close();
    }
  });
});
