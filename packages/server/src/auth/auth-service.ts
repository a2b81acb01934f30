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
import { ErrorCode, isShardId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { ShareLink, ShareLinkRegistry } from './share-links.js';

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
  /** Set when the token is a share link minted by this server (revocable, see ShareLinkRegistry). */
  link?: LinkClaim;
};

/** The `link` claim of a share link: which link, of which shard, minted by whom. */
export type LinkClaim = { id: string; shardId: ShardId; mintedBy: string };

const claimsSchema = z.object({
  sub: z.string().min(1).max(200),
  name: z.string().max(200).optional(),
  role: z.enum(['admin', 'user']).optional(),
  shards: z.record(z.string(), z.enum(['read', 'write'])).optional(),
  create: z.boolean().optional(),
  link: z
    .strictObject({ id: z.uuid(), shard: z.custom<ShardId>(isShardId), by: z.string().min(1).max(200) })
    .optional(),
});

/** Claims accepted by mintToken. */
export type TokenClaims = {
  sub: string;
  name?: string;
  role?: 'admin' | 'user';
  shards?: Record<string, 'read' | 'write'>;
  create?: boolean;
};

/** The `sub` of every share link starts with this (then the link id). */
const SHARE_SUB_PREFIX = 'share:';

/** What POST /shards/:id/tokens returns. */
export type MintedShareLink = { token: string; link: ShareLink };

export interface AuthService {
  /** Verifies a bearer token; throws AppError UNAUTHENTICATED or TOKEN_EXPIRED. */
  verify(token: string | undefined): Promise<Principal>;
  /** Signs a token with the configured HS256 secret; throws when only a JWKS is configured. */
  mint(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** Whether this server can mint tokens (share links). */
  canMint(): boolean;
  /**
   * Mints a revocable share link to one shard for `minter` (who must have write access, checked by
   * the caller). It expires after `ttlSeconds` (default: min(AUTH_TOKEN_TTL_SECONDS,
   * SHARE_LINK_MAX_TTL_SECONDS)), never after SHARE_LINK_MAX_TTL_SECONDS (longer is refused with
   * VALIDATION_FAILED), and, unless an admin mints it, never after the minter's own token.
   */
  mintShareLink(
    minter: Principal,
    shardId: ShardId,
    access: 'read' | 'write',
    ttlSeconds?: number,
  ): Promise<MintedShareLink>;
  /** The share links of a shard (throws when no registry is configured). */
  shareLinks(): ShareLinkRegistry;
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

export type AuthServiceDeps = {
  /** Where share links are recorded and revoked; without it share links are refused. */
  shareLinks?: ShareLinkRegistry;
};

export function createAuthService(config: Config['auth'], deps: AuthServiceDeps = {}): AuthService {
  // Imported once: given raw bytes, jose imports the key into WebCrypto on every verify and sign,
  // about half of a verify's CPU (docs/benchmarks.md, optimisation 12).
  const secret =
    config.jwtSecret === undefined
      ? undefined
      : crypto.subtle.importKey(
          'raw',
          new TextEncoder().encode(config.jwtSecret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['sign', 'verify'],
        );
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
      return (await jwtVerify(token, await secret, { ...verifyOptions, algorithms: ['HS256'] })).payload;
    }
    // jwks is defined here: the constructor refuses to build without one of the two.
    return (await jwtVerify(token, jwks as JWTVerifyGetKey, verifyOptions)).payload;
  }

  const registry = deps.shareLinks;
  const requireRegistry = (): ShareLinkRegistry => {
    if (registry === undefined) {
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'share links cannot be checked by this process');
    }
    return registry;
  };

  async function sign(claims: Record<string, unknown>, expiresAtSeconds: number): Promise<string> {
    if (secret === undefined) {
      throw new AppError(ErrorCode.FORBIDDEN, 'this server verifies tokens with a JWKS and cannot mint them');
    }
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
    if (config.issuer !== undefined) jwt.setIssuer(config.issuer);
    if (config.audience !== undefined) jwt.setAudience(config.audience);
    return jwt.setExpirationTime(expiresAtSeconds).sign(await secret);
  }

  return {
    async verify(token) {
      if (token === undefined || token === '') {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'a bearer token is required (Authorization: Bearer <token>)');
      }
      // Before any decoding: a huge token costs the parser and the HMAC time on every request.
      if (token.length > config.maxTokenBytes || Buffer.byteLength(token) > config.maxTokenBytes) {
        throw new AppError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `the token is larger than ${config.maxTokenBytes} bytes (AUTH_MAX_TOKEN_BYTES); use a token with fewer claims`,
        );
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
      const link = c.link === undefined ? undefined : { id: c.link.id, shardId: c.link.shard, mintedBy: c.link.by };
      if (link === undefined && c.sub.startsWith(SHARE_SUB_PREFIX)) {
        // Minted before links were recorded (some to live until 2058): nothing could revoke them.
        throw new AppError(
          ErrorCode.UNAUTHENTICATED,
          'this share link was minted by an older version and cannot be revoked; ask for a new one',
        );
      }
      if (link !== undefined && !(await requireRegistry().isLive(link.shardId, link.id))) {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'this share link was revoked; ask for a new one');
      }
      return {
        userId: c.sub,
        name: c.name ?? c.sub,
        role,
        shards: Object.freeze({ ...(c.shards ?? {}) }),
        canCreate: role === 'admin' || c.create === true,
        expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
        ...(link === undefined ? {} : { link }),
      };
    },
    async mint(claims, ttlSeconds = config.tokenTtlSeconds) {
      return sign({ ...claims }, Math.floor(Date.now() / 1000) + ttlSeconds);
    },
    canMint: () => secret !== undefined,
    async mintShareLink(minter, shardId, access, ttlSeconds) {
      const links = requireRegistry();
      const maxTtl = config.shareLinkMaxTtlSeconds;
      if (ttlSeconds !== undefined && ttlSeconds > maxTtl) {
        throw new AppError(
          ErrorCode.VALIDATION_FAILED,
          `ttlSeconds may be at most ${maxTtl} (SHARE_LINK_MAX_TTL_SECONDS); got ${ttlSeconds}`,
          { details: { maxTtlSeconds: maxTtl } },
        );
      }
      if ((await links.count(shardId)) >= config.shareLinkMaxPerShard) {
        throw new AppError(
          ErrorCode.RATE_LIMITED,
          `this shard already has ${config.shareLinkMaxPerShard} live share links (SHARE_LINK_MAX_PER_SHARD); revoke some first`,
        );
      }
      const nowMs = Date.now();
      let expiresAtSeconds = Math.floor(nowMs / 1000) + (ttlSeconds ?? Math.min(config.tokenTtlSeconds, maxTtl));
      // A link never outlives the token that minted it: whoever loses access loses their links' too.
      if (minter.role !== 'admin' && minter.expiresAtMs !== null) {
        expiresAtSeconds = Math.min(expiresAtSeconds, Math.floor(minter.expiresAtMs / 1000));
      }
      const id = crypto.randomUUID();
      // A link minted with a link counts against (and is listed under) the user who minted the first.
      const mintedBy = minter.link?.mintedBy ?? minter.userId;
      const link: ShareLink = {
        id,
        shardId,
        access,
        mintedBy,
        createdAtMs: nowMs,
        expiresAtMs: expiresAtSeconds * 1000,
      };
      const token = await sign(
        {
          sub: `${SHARE_SUB_PREFIX}${id}`,
          jti: id,
          name: 'Guest',
          shards: { [shardId]: access },
          link: { id, shard: shardId, by: mintedBy },
        },
        expiresAtSeconds,
      );
      // Recorded before the token is handed out: a token is never valid without its record.
      await links.add(link);
      return { token, link };
    },
    shareLinks: requireRegistry,
  };
}
