/**
 * auth — JWT verification (jose; HS256 secret or JWKS), the Principal, per-shard access checks,
 * token minting. Imports config types, errors and protocol only.
 */
export {
  createAuthService,
  accessTo,
  assertAccess,
  type AuthService,
  type Principal,
  type Access,
  type TokenClaims,
} from './auth-service.js';
