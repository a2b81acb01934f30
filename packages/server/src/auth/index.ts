/**
 * auth — JWT verification (jose; HS256 secret or JWKS), the Principal, per-shard access checks,
 * token minting, revocable share links (recorded in Redis), development mode's generated secret.
 * Imports config types, errors, redis key builders and protocol only.
 */
export {
  createAuthService,
  accessTo,
  assertAccess,
  type AuthService,
  type AuthServiceDeps,
  type Principal,
  type Access,
  type LinkClaim,
  type MintedShareLink,
  type TokenClaims,
} from './auth-service.js';
export { RedisShareLinkRegistry, type ShareLink, type ShareLinkRegistry } from './share-links.js';
export { loadOrCreateDevSecret } from './dev-secret.js';
export { isOriginAllowed, isSameOrigin, isLoopbackHost } from './origin.js';
