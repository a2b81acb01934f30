import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { io, type Socket } from 'socket.io-client';
import type { ShardId } from '@tandem/protocol';
import { useTandem } from '../support/harness.js';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { createTestRedis } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { shareLinkKey } from '../../src/redis/index.js';

const MAX_TTL_SECONDS = 7200;
const MAX_CONNECTIONS_PER_USER = 3;

type Json = Record<string, unknown>;
type LinkBody = { id: string; access: string; mintedBy: string; createdAt: string; expiresAt: string };

describe('share links: bounded, revocable, counted by their minter', () => {
  const t = useTandem({
    instances: 2,
    env: {
      SHARE_LINK_MAX_TTL_SECONDS: String(MAX_TTL_SECONDS),
      MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS_PER_USER),
    },
  });
  const redis = createTestRedis();
  const sockets: Socket[] = [];
  let shardId: ShardId;
  let editor: string;
  let admin: string;

  beforeAll(async () => {
    shardId = await createShard(t.url());
    editor = await tokenFor({ sub: 'link-minter', shards: { [shardId]: 'write' } });
    admin = await adminToken();
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await redis.quit();
  });

  async function call(
    method: string,
    path: string,
    token: string,
    body?: unknown,
    instance = 0,
  ): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${t.url(instance)}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Json };
  }

  async function mint(
    token: string,
    body: Json = { access: 'write' },
  ): Promise<{ token: string; link: LinkBody; exp: number }> {
    const res = await call('POST', `/shards/${shardId}/tokens`, token, body);
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const minted = res.json['token'] as string;
    return { token: minted, link: res.json['link'] as LinkBody, exp: decodeJwt(minted).exp ?? 0 };
  }

  const errorCode = (json: Json) => (json['error'] as { code?: string } | undefined)?.code;

  function connect(token: string, instance = 0): Promise<Socket | string> {
    const socket = io(t.url(instance), {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true,
    });
    return new Promise((resolve) => {
      socket.once('connect', () => {
        sockets.push(socket);
        resolve(socket);
      });
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
        socket.close();
        resolve(error.data?.code ?? error.message);
      });
    });
  }

  it('refuses a ttl over SHARE_LINK_MAX_TTL_SECONDS (1e9 and MAX_SAFE_INTEGER used to be accepted)', async () => {
    for (const ttlSeconds of [1e9, Number.MAX_SAFE_INTEGER, MAX_TTL_SECONDS + 1]) {
      const res = await call('POST', `/shards/${shardId}/tokens`, editor, { access: 'write', ttlSeconds });
      expect(res.status, `ttlSeconds ${ttlSeconds}`).toBe(400);
      expect(errorCode(res.json)).toBe('VALIDATION_FAILED');
    }
    // Without a ttl: min(AUTH_TOKEN_TTL_SECONDS = 7 days, the maximum).
    const { exp } = await mint(admin);
    expect(exp - Date.now() / 1000).toBeGreaterThan(MAX_TTL_SECONDS - 60);
    expect(exp - Date.now() / 1000).toBeLessThanOrEqual(MAX_TTL_SECONDS + 1);
  });

  it("never outlives the minter's token, unless an admin mints it", async () => {
    const shortLived = await tokenFor({ sub: 'short-lived', shards: { [shardId]: 'write' } }, 65);
    const minterExp = decodeJwt(shortLived).exp ?? 0;
    const { token, exp } = await mint(shortLived, { access: 'write', ttlSeconds: 3600 });
    expect(exp).toBeLessThanOrEqual(minterExp);
    // A link minted with that link is bounded by it too, and listed under the first minter.
    const child = await mint(token, { access: 'read', ttlSeconds: 3600 });
    expect(child.exp).toBeLessThanOrEqual(minterExp);
    expect(child.link.mintedBy).toBe('short-lived');

    const shortAdmin = await tokenFor({ sub: 'short-admin', role: 'admin' }, 65);
    const byAdmin = await mint(shortAdmin, { access: 'read', ttlSeconds: 3600 });
    expect(byAdmin.exp).toBeGreaterThan((decodeJwt(shortAdmin).exp ?? 0) + 3000);
  });

  it('refuses share links minted before links were recorded (they could not be revoked)', async () => {
    const legacy = await tokenFor({
      sub: `share:${crypto.randomUUID()}`,
      name: 'Guest',
      shards: { [shardId]: 'write' },
    });
    const res = await call('GET', `/shards/${shardId}`, legacy);
    expect(res.status).toBe(401);
    expect(errorCode(res.json)).toBe('UNAUTHENTICATED');
    expect(await connect(legacy)).toBe('UNAUTHENTICATED');
  });

  it('keeps each link in Redis with a TTL equal to its expiry', async () => {
    const { link, exp } = await mint(editor, { access: 'read', ttlSeconds: 600 });
    const ttlMs = await redis.pttl(shareLinkKey(t.prefix, shardId, link.id));
    expect(Math.abs(Date.now() + ttlMs - exp * 1000)).toBeLessThan(5_000);
  });

  it('lists the live links of a shard to those who may write it with their own token', async () => {
    const { token, link } = await mint(editor, { access: 'read' });
    const listed = await call('GET', `/shards/${shardId}/tokens`, editor);
    expect(listed.status).toBe(200);
    const links = listed.json['links'] as LinkBody[];
    expect(links.map((l) => l.id)).toContain(link.id);
    expect(links.find((l) => l.id === link.id)).toMatchObject({ access: 'read', mintedBy: 'link-minter' });
    expect(JSON.stringify(listed.json)).not.toContain(token);

    const viewer = await tokenFor({ shards: { [shardId]: 'read' } });
    expect(errorCode((await call('GET', `/shards/${shardId}/tokens`, viewer)).json)).toBe('READ_ONLY');
    const writeLink = (await mint(editor, { access: 'write' })).token;
    const byLink = await call('GET', `/shards/${shardId}/tokens`, writeLink);
    expect(byLink.status).toBe(403);
    expect((await call('DELETE', `/shards/${shardId}/tokens/${link.id}`, writeLink)).status).toBe(403);
    expect((await call('DELETE', `/shards/${shardId}/tokens`, viewer)).status).toBe(403);
  });

  it('revokes one link on every instance: REST refused, handshake refused, live sockets disconnected', async () => {
    const revoked = await mint(editor, { access: 'write' });
    const kept = await mint(editor, { access: 'write' });
    expect((await call('GET', `/shards/${shardId}`, revoked.token, undefined, 1)).status).toBe(200);
    const onFirst = await connect(revoked.token, 0);
    const onSecond = await connect(revoked.token, 1);
    const keptSocket = await connect(kept.token, 1);
    if (typeof onFirst === 'string' || typeof onSecond === 'string' || typeof keptSocket === 'string') {
      throw new Error(`could not connect: ${String(onFirst)} ${String(onSecond)} ${String(keptSocket)}`);
    }

    const res = await call('DELETE', `/shards/${shardId}/tokens/${revoked.link.id}`, editor);
    expect(res.status).toBe(200);
    expect(res.json['revoked']).toEqual([revoked.link.id]);

    await waitFor(() => !onFirst.connected && !onSecond.connected, 5_000);
    expect(keptSocket.connected).toBe(true);
    for (const instance of [0, 1]) {
      const refused = await call('GET', `/shards/${shardId}`, revoked.token, undefined, instance);
      expect(refused.status).toBe(401);
      expect(errorCode(refused.json)).toBe('UNAUTHENTICATED');
      expect(await connect(revoked.token, instance)).toBe('UNAUTHENTICATED');
    }
    expect((await call('GET', `/shards/${shardId}`, kept.token, undefined, 1)).status).toBe(200);
    const listed = (await call('GET', `/shards/${shardId}/tokens`, editor)).json['links'] as LinkBody[];
    expect(listed.map((l) => l.id)).not.toContain(revoked.link.id);
    // Revoking it again: there is no such live link.
    expect((await call('DELETE', `/shards/${shardId}/tokens/${revoked.link.id}`, editor)).status).toBe(404);
  });

  it('revokes every link of the shard at once', async () => {
    const a = await mint(editor, { access: 'write' });
    const b = await mint(editor, { access: 'read' });
    const socket = await connect(b.token, 1);
    if (typeof socket === 'string') throw new Error(socket);
    const res = await call('DELETE', `/shards/${shardId}/tokens`, admin, undefined, 1);
    expect(res.status).toBe(200);
    expect(res.json['revoked']).toEqual(expect.arrayContaining([a.link.id, b.link.id]));
    await waitFor(() => !socket.connected, 5_000);
    expect((await call('GET', `/shards/${shardId}`, a.token)).status).toBe(401);
    expect((await call('GET', `/shards/${shardId}`, b.token)).status).toBe(401);
    expect((await call('GET', `/shards/${shardId}/tokens`, editor)).json['links']).toEqual([]);
    // The minter's own token is untouched.
    expect((await call('GET', `/shards/${shardId}`, editor)).status).toBe(200);
  });

  it('counts the connections of all links one user minted against one MAX_CONNECTIONS_PER_USER budget', async () => {
    const minter = await tokenFor({ sub: 'many-links', shards: { [shardId]: 'write' } });
    const links = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS_PER_USER + 2 }, () => mint(minter, { access: 'read' })),
    );
    const outcomes: Array<string> = [];
    for (const { token } of links) {
      const socket = await connect(token, 0);
      outcomes.push(typeof socket === 'string' ? socket : 'ok');
    }
    expect(outcomes).toEqual([
      ...Array.from({ length: MAX_CONNECTIONS_PER_USER }, () => 'ok'),
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
    // The minter's own connections have their own budget.
    expect(typeof (await connect(minter, 0))).not.toBe('string');
  });
});
