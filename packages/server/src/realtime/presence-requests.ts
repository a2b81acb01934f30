import type { ShardId } from '@tandem/protocol';
import { roomOf, type TandemServer } from './socket-server.js';

/** Shortest time between two presence:requested of one shard from one instance. */
const PRESENCE_REQUEST_WINDOW_MS = 250;

/**
 * Asks a shard's room (but the joiners) for their presence when someone joins, at most once per
 * PRESENCE_REQUEST_WINDOW_MS per shard on this instance: the first join of a quiet shard asks at
 * once, joins within the window are answered by one request at its end. Every SDK in the room
 * answers a request with a presence update, which costs it one event of its own rate budget, so
 * one request per join would let anyone who may read a shard flood joins (each within their own
 * limit) until every collaborator's edits are refused with RATE_LIMITED. Each request carries the
 * shard clock as of the latest join it answers (clients check it for missed notices).
 */
export class PresenceRequests {
  private readonly windows = new Map<
    ShardId,
    { joiners: Set<string>; version: number; onlyHere: boolean; timer: NodeJS.Timeout }
  >();

  constructor(private readonly io: TandemServer) {}

  /**
   * `onlyHere`: the join found no other instance that may have a socket in the shard, so only
   * this instance's sockets are asked (no publish); a window's request is published when any of
   * the joins it answers was not sure.
   */
  request(shardId: ShardId, joinerId: string, version: number, onlyHere = false): void {
    const open = this.windows.get(shardId);
    if (open !== undefined) {
      open.joiners.add(joinerId);
      open.version = Math.max(open.version, version);
      open.onlyHere &&= onlyHere;
      return;
    }
    (onlyHere ? this.io.local : this.io)
      .to(roomOf(shardId))
      .except(joinerId)
      .emit('presence:requested', { shardId, version });
    this.openWindow(shardId, version);
  }

  close(): void {
    for (const { timer } of this.windows.values()) clearTimeout(timer);
    this.windows.clear();
  }

  private openWindow(shardId: ShardId, version: number): void {
    const timer = setTimeout(() => {
      const window = this.windows.get(shardId);
      this.windows.delete(shardId);
      if (window === undefined || window.joiners.size === 0) return;
      (window.onlyHere ? this.io.local : this.io)
        .to(roomOf(shardId))
        .except([...window.joiners])
        .emit('presence:requested', { shardId, version: window.version });
      // Still busy: keep throttling.
      this.openWindow(shardId, window.version);
    }, PRESENCE_REQUEST_WINDOW_MS);
    timer.unref();
    this.windows.set(shardId, { joiners: new Set(), version, onlyHere: true, timer });
  }
}
