import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { ErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';

/** What a token grants on one shard. */
export type Access = 'none' | 'read' | 'write';

/** The verified identity behind a request or socket. */
export type Principal = {
  userId: string;
  name: string;
  /** `admin`: write access to every shard and may create shards. */
  role: 'admin' | 'user';
  /** Per-shard grants; the key `*` applies to every shard. */
  shards: Readonly<Record<string, 'read' | 'write'>>;
  /** May create shards (admins always may). */
  canCreate: boolean;
  /** Expiry as ms since the epoch, or null for a token without `exp`. */
  expiresAtMs: number | null;
};

const claimsSchema = z.object({
  sub: z.string().min(1).max(200),
  name: z.string().max(200).optional(),
  role: z.enum(['admin', 'user']).optional(),
  shards: z.record(z.string(), z.enum(['read', 'write'])).optional(),
  create: z.boolean().optional(),
});

/** Claims accepted by mintToken. */
export type TokenClaims = {
  sub: string;
  name?: string;
  role?: 'admin' | 'user';
  shards?: Record<string, 'read' | 'write'>;
  create?: boolean;
};

export interface AuthService {
  /** Verifies a bearer token; throws AppError UNAUTHENTICATED or TOKEN_EXPIRED. */
  verify(token: string | undefined): Promise<Principal>;
  /** Signs a token with the configured HS256 secret; throws when only a JWKS is configured. */
  mint(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** Whether this server can mint tokens (share links). */
  canMint(): boolean;
}

/** The access a principal has to a shard. */
export function accessTo(principal: Principal, shardId: ShardId): Access {
  if (principal.role === 'admin') return 'write';
  return principal.shards[shardId] ?? principal.shards['*'] ?? 'none';
}

/** Throws FORBIDDEN unless the principal may read (or, with `write`, write) the shard. */
export function assertAccess(principal: Principal, shardId: ShardId, needed: 'read' | 'write'): void {
  const access = accessTo(principal, shardId);
  if (access === 'none') {
    throw new AppError(ErrorCode.FORBIDDEN, 'your token does not grant access to this shard', { details: { shardId } });
  }
  if (needed === 'write' && access === 'read') {
    throw new AppError(ErrorCode.READ_ONLY, 'your token grants read-only access to this shard', {
      details: { shardId },
    });
  }
}

export function createAuthService(config: Config['auth']): AuthService {
  const secret = config.jwtSecret === undefined ? undefined : new TextEncoder().encode(config.jwtSecret);
  const jwks: JWTVerifyGetKey | undefined =
    config.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(config.jwksUrl));
  if (secret === undefined && jwks === undefined) {
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      'no token verification configured: set AUTH_JWT_SECRET (or AUTH_JWKS_URL), or TANDEM_INSECURE_DEV=true for local development',
    );
  }
  const verifyOptions = {
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };

  async function verifyPayload(token: string): Promise<JWTPayload> {
    // With both configured, HS256 tokens are the ones this server minted (share links) and
    // everything else comes from the host's JWKS. The secret only ever verifies HS256.
    if (secret !== undefined && (jwks === undefined || decodeProtectedHeader(token).alg === 'HS256')) {
      return (await jwtVerify(token, secret, { ...verifyOptions, algorithms: ['HS256'] })).payload;
    }
    // jwks is defined here: the constructor refuses to build without one of the two.
    return (await jwtVerify(token, jwks as JWTVerifyGetKey, verifyOptions)).payload;
  }

  return {
    async verify(token) {
      if (token === undefined || token === '') {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required (Authorization: Bearer <token>)');
      }
      let payload: JWTPayload;
      try {
        payload = await verifyPayload(token);
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          throw new AppError(ErrorCode.TOKEN_EXPIRED, 'the token has expired; get a new one', { cause: error });
        }
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'the token is invalid (bad signature, format or claims)', {
          cause: error,
        });
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'the token lacks required claims (sub) or has malformed ones');
      }
      const c = claims.data;
      const role = c.role ?? 'user';
      return {
        userId: c.sub,
        name: c.name ?? c.sub,
        role,
        shards: Object.freeze({ ...(c.shards ?? {}) }),
        canCreate: role === 'admin' || c.create === true,
        expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
      };
    },
    async mint(claims, ttlSeconds = config.tokenTtlSeconds) {
      if (secret === undefined) {
        throw new AppError(ErrorCode.FORBIDDEN, 'this server verifies tokens with a JWKS and cannot mint them');
      }
      const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
      if (config.issuer !== undefined) jwt.setIssuer(config.issuer);
      if (config.audience !== undefined) jwt.setAudience(config.audience);
      return jwt.setExpirationTime(`${ttlSeconds}s`).sign(secret);
    },
    canMint: () => secret !== undefined,
  };
}
