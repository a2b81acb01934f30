import { createHmac } from 'node:crypto';

/** The HS256 secret the bench's Tandem servers verify tokens with (local processes only). */
export const BENCH_JWT_SECRET = 'tandem-bench-secret-tandem-bench-secret-0123';

/** An HS256 JWT, as the host application of a Tandem deployment would sign it. */
export function signToken(claims: Record<string, unknown>, secret = BENCH_JWT_SECRET, ttlSeconds = 6 * 3600): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + ttlSeconds, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** May do anything: create shards, write everywhere. */
export function adminToken(): string {
  return signToken({ sub: 'bench-admin', role: 'admin', create: true });
}
