import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Principal } from '../auth/index.js';
import type { TandemSocket } from './socket-server.js';

/**
 * MAX_CONNECTIONS_PER_USER on this instance: the sockets each owner holds. A share link's owner is
 * the user who minted it (all their links share one budget, separate from their own sockets), so
 * minting links (a new `sub` each) does not multiply connections.
 */
export class ConnectionLimiter {
  private readonly held = new Map<string, Set<string>>();

  constructor(private readonly maxPerOwner: number) {}

  /**
   * Counts the socket against its owner's cap; throws RATE_LIMITED when the owner already holds
   * that many. Released when the socket disconnects or its transport closes, whichever comes first
   * (a handshake whose client went away before it completed never emits `disconnect`).
   */
  reserve(socket: TandemSocket, principal: Principal): void {
    // A client that left while its token was being verified is dropped by socket.io; holding a
    // slot for it would leak, because its transport's close event has already fired.
    if (socket.conn.readyState !== 'open') return;
    const owner = connectionOwner(principal);
    let sockets = this.held.get(owner);
    if (sockets === undefined) {
      sockets = new Set();
      this.held.set(owner, sockets);
    }
    if (sockets.size >= this.maxPerOwner) {
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `too many connections for this user on this server (at most ${this.maxPerOwner}); close some before opening more`,
      );
    }
    sockets.add(socket.id);
    const set = sockets;
    const release = () => {
      set.delete(socket.id);
      if (set.size === 0 && this.held.get(owner) === set) this.held.delete(owner);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
  }
}

function connectionOwner(principal: Principal): string {
  return principal.link === undefined ? `user:${principal.userId}` : `links-of:${principal.link.mintedBy}`;
}
