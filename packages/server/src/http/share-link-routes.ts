import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ErrorCode, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { AuthService, ShareLink } from '../auth/index.js';
import type { ShardService } from '../shards/index.js';
import { perUserHourly } from './rate-limits.js';
import { parseBody, principalOf, shardIdOf } from './request-context.js';

const ShareBody = z.strictObject({
  access: z.enum(['read', 'write']),
  // The configured maximum (SHARE_LINK_MAX_TTL_SECONDS) is checked where the link is minted.
  ttlSeconds: z.number().int().min(60).max(Number.MAX_SAFE_INTEGER).optional(),
});

export type ShareLinkRoutesDeps = {
  auth: AuthService;
  shards: ShardService;
  limits: Config['limits'];
  /** Disconnects the live sockets of revoked share links, on every instance. */
  disconnectShareLinks?: (linkIds: readonly string[]) => Promise<void>;
};

/**
 * Share links of a shard: mint one (POST …/tokens), list them, revoke one or all. `deps` is read
 * on every request (its `shards` may be bound after the routes are registered). With `rateLimited`
 * (registerRateLimit ran), minting links has its own hourly cap.
 */
export function registerShareLinkRoutes(app: FastifyInstance, deps: ShareLinkRoutesDeps, rateLimited: boolean): void {
  const shareLinkLimit = rateLimited
    ? { preHandler: perUserHourly(app, 'share links', deps.limits.shareLinksPerHour) }
    : {};
  app.post('/shards/:id/tokens', shareLinkLimit, async (request, reply) => {
    const shardId = shardIdOf(request);
    const principal = principalOf(request);
    await deps.shards.requireAccess(principal, shardId, 'write');
    await deps.shards.get(principal, shardId);
    const body = parseBody(ShareBody, request.body);
    const { token, link } = await deps.auth.mintShareLink(principal, shardId, body.access, body.ttlSeconds);
    return reply.status(201).send({ token, access: body.access, link: linkBody(link) });
  });
  app.get('/shards/:id/tokens', async (request) => {
    const shardId = await manageableShard(request);
    const links = await deps.auth.shareLinks().list(shardId);
    return { links: links.map(linkBody) };
  });
  app.delete('/shards/:id/tokens/:linkId', async (request) => {
    const shardId = await manageableShard(request);
    const { linkId } = request.params as { linkId: string };
    if (!(await deps.auth.shareLinks().revoke(shardId, linkId))) {
      throw new AppError(
        ErrorCode.NOT_FOUND,
        'no live share link with this id on this shard (GET …/tokens lists them)',
      );
    }
    await deps.disconnectShareLinks?.([linkId]);
    return { revoked: [linkId] };
  });
  app.delete('/shards/:id/tokens', async (request) => {
    const shardId = await manageableShard(request);
    const revoked = await deps.auth.shareLinks().revokeAll(shardId);
    if (revoked.length > 0) await deps.disconnectShareLinks?.(revoked);
    return { revoked };
  });

  /**
   * The shard whose share links the request lists or revokes: the caller needs write access
   * through their own token; a share link cannot manage links (a guest cannot cut off the others).
   */
  async function manageableShard(request: FastifyRequest): Promise<ShardId> {
    const shardId = shardIdOf(request);
    const principal = principalOf(request);
    await deps.shards.requireAccess(principal, shardId, 'write');
    if (principal.link !== undefined) {
      throw new AppError(ErrorCode.FORBIDDEN, 'a share link cannot list or revoke share links; use your own token');
    }
    await deps.shards.get(principal, shardId);
    return shardId;
  }
}

/** A share link as the REST API shows it. */
function linkBody(link: ShareLink): Record<string, unknown> {
  return {
    id: link.id,
    access: link.access,
    mintedBy: link.mintedBy,
    createdAt: new Date(link.createdAtMs).toISOString(),
    expiresAt: new Date(link.expiresAtMs).toISOString(),
  };
}
