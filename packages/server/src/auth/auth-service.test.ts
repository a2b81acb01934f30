import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { ErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import { accessTo, assertAccess, createAuthService, type Principal } from './auth-service.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const OTHER_SECRET = 'another-secret-another-secret-another-secret';
const SHARD = '11111111-2222-4333-8444-555555555555' as ShardId;
const OTHER_SHARD = '99999999-2222-4333-8444-555555555555' as ShardId;

function authConfig(overrides: Partial<Config['auth']> = {}): Config['auth'] {
  return {
    jwtSecret: SECRET,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
    tokenTtlSeconds: 3600,
    insecureDev: false,
    devSecretFile: undefined,
    maxTokenBytes: 8192,
    shareLinkMaxTtlSeconds: 7 * 24 * 3600,
    shareLinkMaxPerShard: 500,
    ...overrides,
  };
}

function sign(
  claims: JWTPayload,
  options: { secret?: string; alg?: string; expSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expSeconds ?? 600))
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

function principal(overrides: Partial<Principal> = {}): Principal {
  return { userId: 'u', name: 'u', role: 'user', shards: {}, canCreate: false, expiresAtMs: null, ...overrides };
}

describe('createAuthService with an HS256 secret', () => {
  const auth = createAuthService(authConfig());

  it('verifies what it mints', async () => {
    const token = await auth.mint({ sub: 'alice', name: 'Alice', shards: { [SHARD]: 'write' }, create: true }, 120);
    const p = await auth.verify(token);
    expect(p).toMatchObject({
      userId: 'alice',
      name: 'Alice',
      role: 'user',
      shards: { [SHARD]: 'write' },
      canCreate: true,
    });
    const payload = decodeJwt(token);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(120);
    expect(p.expiresAtMs).toBe((payload.exp ?? 0) * 1000);
    expect(Object.isFrozen(p.shards)).toBe(true);
    expect(auth.canMint()).toBe(true);
  });

  it('uses the configured TTL by default', async () => {
    const payload = decodeJwt(await auth.mint({ sub: 'bob' }));
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  it('fills defaults: name is the subject, role user, no shards, no create', async () => {
    const p = await auth.verify(await sign({ sub: 'carol' }));
    expect(p).toMatchObject({ userId: 'carol', name: 'carol', role: 'user', shards: {}, canCreate: false });
  });

  it('lets admins create shards', async () => {
    expect((await auth.verify(await sign({ sub: 'root', role: 'admin' }))).canCreate).toBe(true);
  });

  it('accepts a token without exp (expiresAtMs null)', async () => {
    const token = await new SignJWT({ sub: 'forever' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    expect((await auth.verify(token)).expiresAtMs).toBeNull();
  });

  it('refuses an expired token with TOKEN_EXPIRED', async () => {
    const error = await rejection(auth.verify(await sign({ sub: 'alice' }, { expSeconds: -5 })));
    expect(error.code).toBe(ErrorCode.TOKEN_EXPIRED);
    expect(error.message).toMatch(/expired/);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'not-a-token'],
    ['three garbage parts', 'aaa.bbb.ccc'],
    ['truncated', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0'],
  ])('refuses a %s token with UNAUTHENTICATED', async (_name, token) => {
    expect((await rejection(auth.verify(token))).code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it('refuses a token signed with another secret', async () => {
    expect((await rejection(auth.verify(await sign({ sub: 'mallory' }, { secret: OTHER_SECRET })))).code).toBe(
      ErrorCode.UNAUTHENTICATED,
    );
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await sign({ sub: 'alice', role: 'user' })).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'alice', role: 'admin', exp: 9_999_999_999 })).toString(
      'base64url',
    );
    expect((await rejection(auth.verify(`${header}.${forged}.${signature}`))).code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it('refuses alg "none"', async () => {
    const token = new UnsecuredJWT({ sub: 'mallory', role: 'admin' }).setIssuedAt().setExpirationTime('1h').encode();
    expect((await rejection(auth.verify(token))).code).toBe(ErrorCode.UNAUTHENTICATED);
    const handMade = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"m","role":"admin"}').toString('base64url')}.`;
    expect((await rejection(auth.verify(handMade))).code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it('refuses other HMAC algorithms, even with the right secret', async () => {
    expect((await rejection(auth.verify(await sign({ sub: 'alice' }, { alg: 'HS512' })))).code).toBe(
      ErrorCode.UNAUTHENTICATED,
    );
  });

  it('refuses a token that is not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(now + 600)
      .setExpirationTime(now + 1200)
      .sign(new TextEncoder().encode(SECRET));
    expect((await rejection(auth.verify(token))).code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it.each([
    ['no sub', {}],
    ['an empty sub', { sub: '' }],
    ['a numeric sub', { sub: 42 }],
    ['an unknown role', { sub: 'a', role: 'superuser' }],
    ['a bad grant', { sub: 'a', shards: { [SHARD]: 'owner' } }],
    ['a non-boolean create', { sub: 'a', create: 'yes' }],
  ])('refuses a token with %s with UNAUTHENTICATED', async (_name, claims) => {
    const error = await rejection(auth.verify(await sign(claims as JWTPayload)));
    expect(error.code).toBe(ErrorCode.UNAUTHENTICATED);
  });
});

describe('issuer and audience', () => {
  const strict = createAuthService(authConfig({ issuer: 'https://host.example', audience: 'tandem' }));

  it('mints tokens carrying them and accepts those', async () => {
    const token = await strict.mint({ sub: 'alice' });
    expect(decodeJwt(token)).toMatchObject({ iss: 'https://host.example', aud: 'tandem' });
    expect((await strict.verify(token)).userId).toBe('alice');
  });

  it.each([
    ['no iss or aud', {}],
    ['another issuer', { iss: 'https://evil.example', aud: 'tandem' }],
    ['another audience', { iss: 'https://host.example', aud: 'other-app' }],
    ['only the issuer', { iss: 'https://host.example' }],
  ])('refuses a token with %s', async (_name, claims) => {
    expect((await rejection(strict.verify(await sign({ sub: 'alice', ...claims })))).code).toBe(
      ErrorCode.UNAUTHENTICATED,
    );
  });

  it('are not checked when not configured', async () => {
    const lax = createAuthService(authConfig());
    expect((await lax.verify(await sign({ sub: 'alice', iss: 'anyone', aud: 'anything' }))).userId).toBe('alice');
  });
});

describe('createAuthService without a key', () => {
  it('refuses to build without a secret or a JWKS, naming AUTH_JWT_SECRET', () => {
    let error: unknown;
    try {
      createAuthService(authConfig({ jwtSecret: undefined }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe(ErrorCode.VALIDATION_FAILED);
    expect((error as AppError).message).toContain('AUTH_JWT_SECRET');
  });
});

describe('createAuthService with a JWKS', () => {
  // The host application's key set, served over local HTTP (the only external HTTP here).
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let strangerKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    strangerKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'host-1', alg: 'ES256', use: 'sig' };
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function es256(claims: JWTPayload, key: CryptoKey = privateKey): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'host-1' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
  }

  it('verifies tokens signed by the host application', async () => {
    const auth = createAuthService(authConfig({ jwtSecret: undefined, jwksUrl }));
    expect((await auth.verify(await es256({ sub: 'host-user', shards: { [SHARD]: 'read' } }))).shards).toEqual({
      [SHARD]: 'read',
    });
  });

  it('refuses tokens signed by another key, and HS256 tokens', async () => {
    const auth = createAuthService(authConfig({ jwtSecret: undefined, jwksUrl }));
    expect((await rejection(auth.verify(await es256({ sub: 'x' }, strangerKey)))).code).toBe(ErrorCode.UNAUTHENTICATED);
    expect((await rejection(auth.verify(await sign({ sub: 'x' })))).code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it('cannot mint without a secret', async () => {
    const auth = createAuthService(authConfig({ jwtSecret: undefined, jwksUrl }));
    expect(auth.canMint()).toBe(false);
    expect((await rejection(auth.mint({ sub: 'x' }))).code).toBe(ErrorCode.FORBIDDEN);
  });

  it('with a secret too, verifies both host tokens and the tokens it mints (share links)', async () => {
    const auth = createAuthService(authConfig({ jwksUrl }));
    expect(auth.canMint()).toBe(true);
    expect((await auth.verify(await es256({ sub: 'host-user' }))).userId).toBe('host-user');
    expect((await auth.verify(await auth.mint({ sub: 'guest', shards: { [SHARD]: 'read' } }))).userId).toBe('guest');
    expect((await rejection(auth.verify(await sign({ sub: 'x' }, { secret: OTHER_SECRET })))).code).toBe(
      ErrorCode.UNAUTHENTICATED,
    );
  });
});

describe('accessTo and assertAccess', () => {
  function denial(p: Principal, needed: 'read' | 'write'): string | undefined {
    try {
      assertAccess(p, SHARD, needed);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      return (error as AppError).code;
    }
  }

  it('gives admins write access to every shard', () => {
    const admin = principal({ role: 'admin' });
    expect(accessTo(admin, SHARD)).toBe('write');
    expect(denial(admin, 'write')).toBeUndefined();
  });

  it('applies a per-shard write grant to that shard only', () => {
    const p = principal({ shards: { [SHARD]: 'write' } });
    expect(accessTo(p, SHARD)).toBe('write');
    expect(accessTo(p, OTHER_SHARD)).toBe('none');
    expect(denial(p, 'read')).toBeUndefined();
    expect(denial(p, 'write')).toBeUndefined();
  });

  it('lets a reader read and answers READ_ONLY to a write', () => {
    const viewer = principal({ shards: { [SHARD]: 'read' } });
    expect(accessTo(viewer, SHARD)).toBe('read');
    expect(denial(viewer, 'read')).toBeUndefined();
    expect(denial(viewer, 'write')).toBe(ErrorCode.READ_ONLY);
  });

  it('answers FORBIDDEN without a grant, whatever the operation', () => {
    const stranger = principal({ shards: { [OTHER_SHARD]: 'write' } });
    expect(accessTo(stranger, SHARD)).toBe('none');
    expect(denial(stranger, 'read')).toBe(ErrorCode.FORBIDDEN);
    expect(denial(stranger, 'write')).toBe(ErrorCode.FORBIDDEN);
    expect(denial(principal(), 'read')).toBe(ErrorCode.FORBIDDEN);
  });

  it('applies "*" to every shard, with a specific grant taking precedence', () => {
    expect(accessTo(principal({ shards: { '*': 'read' } }), SHARD)).toBe('read');
    expect(accessTo(principal({ shards: { '*': 'write' } }), OTHER_SHARD)).toBe('write');
    expect(accessTo(principal({ shards: { '*': 'write', [SHARD]: 'read' } }), SHARD)).toBe('read');
    expect(accessTo(principal({ shards: { '*': 'read', [SHARD]: 'write' } }), SHARD)).toBe('write');
    expect(denial(principal({ shards: { '*': 'read' } }), 'write')).toBe(ErrorCode.READ_ONLY);
  });

  it('names the shard in the error details', () => {
    try {
      assertAccess(principal(), SHARD, 'read');
    } catch (error) {
      expect((error as AppError).details).toEqual({ shardId: SHARD });
    }
    expect.assertions(1);
  });
});
