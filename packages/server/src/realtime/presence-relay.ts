import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import {
  decodeAwarenessUpdate,
  encodeAwarenessUpdate,
  entryCount,
  isRelayableState,
  MAX_AWARENESS_ENTRIES,
  type AwarenessEntry,
} from './awareness-update.js';
import { PresenceClaims } from './presence-claims.js';

// Still exported from here, as before the split (socket-service.ts imports MAX_PRESENCE_NAME_LENGTH from this file).
export { decodeAwarenessUpdate, isRelayableState, MAX_PRESENCE_NAME_LENGTH } from './awareness-update.js';

/**
 * Awareness client ids one socket may speak for in one shard. An editor has one (its Awareness's
 * doc client id); a few more cover a reconnect that picked a new one before the old one was
 * announced gone.
 */
export const MAX_CLIENT_IDS_PER_SOCKET = 4;

/** Why a presence update was refused. */
export type PresenceRefusal = 'malformed' | 'invalid-user' | 'too-many-client-ids' | 'not-yours';

export type PresenceRelayDeps = {
  emit: (shardId: ShardId, update: Uint8Array) => void;
  /** Where client-id ownership is recorded for the whole cluster. */
  redis: Redis | Cluster;
  keyPrefix: string;
  /** This instance's id: members are `<instanceId>:<socketId>`, as in the shard's members set. */
  instanceId: string;
  /** How long a claim outlives the last heartbeat that refreshed it (members expire after memberTtlMs). */
  claimTtlMs: number;
  tickMs?: number;
};

/**
 * Coalesces awareness (presence) updates per shard and per tick: many cursor moves within one
 * tick become one message per room, holding only the newest state of each client. This keeps
 * a busy room from turning into N² traffic (yjs/yjs#732). Nothing is stored but who owns which
 * client id.
 *
 * A client id belongs to the socket that first used it, cluster-wide: the first use is claimed in
 * Redis against the shard's live members (PresenceClaims), so a socket on one instance can neither
 * rewrite nor remove presence owned on another. One socket may hold at most
 * MAX_CLIENT_IDS_PER_SOCKET ids, so the tables stay small and a leave costs what that socket held.
 * The `user` fields collaborators' editors render (name, colour) are validated before anything is
 * relayed (awareness-update.ts).
 */
export class PresenceRelay {
  private pending = new Map<ShardId, Map<number, AwarenessEntry>>();
  /** Per shard: awareness client id → the local socket that owns it, with the last clock seen. */
  private readonly owners = new Map<ShardId, Map<number, { socketId: string; clock: number }>>();
  /** Per shard and local socket (`shardId socketId`): the client ids it owns. */
  private readonly bySocket = new Map<string, Set<number>>();
  private readonly claims: PresenceClaims;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PresenceRelayDeps) {
    this.claims = new PresenceClaims(deps);
  }

  /**
   * Validates and queues an awareness update from one socket. `stillJoined` is asked again after
   * the claim's round trip: a socket that left meanwhile must not be left owning ids.
   */
  async push(
    shardId: ShardId,
    socketId: string,
    update: Uint8Array,
    stillJoined: () => boolean = () => true,
  ): Promise<'ok' | PresenceRefusal> {
    // No socket may hold more ids than this, so a longer update is refused before its states are parsed.
    if (entryCount(update) > MAX_CLIENT_IDS_PER_SOCKET) {
      return decodeAwarenessUpdate(update, { parseStates: false }) === null ? 'malformed' : 'too-many-client-ids';
    }
    const entries = decodeAwarenessUpdate(update);
    if (entries === null) return 'malformed';
    for (const entry of entries.values()) if (!isRelayableState(entry.state)) return 'invalid-user';
    const owners = this.owners.get(shardId);
    const mine = this.bySocket.get(socketKey(shardId, socketId));
    const unclaimed: number[] = [];
    for (const clientId of entries.keys()) {
      const owner = owners?.get(clientId);
      if (owner !== undefined && owner.socketId !== socketId) return 'not-yours';
      if (owner === undefined) unclaimed.push(clientId);
    }
    const claiming = unclaimed.filter((id) => entries.get(id)?.state !== 'null');
    if ((mine?.size ?? 0) + claiming.length > MAX_CLIENT_IDS_PER_SOCKET) return 'too-many-client-ids';
    if (unclaimed.length > 0) {
      // Also for a removal (state null) of an id nobody here holds: it may be held elsewhere.
      if (!(await this.claims.claim(shardId, socketId, unclaimed))) return 'not-yours';
      if (!stillJoined()) {
        await this.claims.release(shardId, socketId, unclaimed);
        return 'ok';
      }
      // Re-checked after the round trip: another local socket may have taken an id meanwhile.
      // Then this socket's fresh claims are given back, or Redis would name the refused socket.
      for (const clientId of claiming) {
        const owner = this.owners.get(shardId)?.get(clientId);
        if (owner !== undefined && owner.socketId !== socketId) {
          await this.claims.release(shardId, socketId, unclaimed);
          return 'not-yours';
        }
      }
    }
    this.record(shardId, socketId, entries);
    this.queue(shardId, entries);
    const gone = [...entries].filter(([, entry]) => entry.state === 'null').map(([clientId]) => clientId);
    if (gone.length > 0) await this.claims.release(shardId, socketId, gone);
    return 'ok';
  }

  /** A socket left the shard: announce its clients as gone (state null, next clock) and release them. */
  removeSocket(shardId: ShardId, socketId: string): Promise<void> {
    const key = socketKey(shardId, socketId);
    const ids = this.bySocket.get(key);
    this.bySocket.delete(key);
    if (ids === undefined || ids.size === 0) return Promise.resolve();
    const owners = this.owners.get(shardId);
    const removed = new Map<number, AwarenessEntry>();
    for (const clientId of ids) {
      const owner = owners?.get(clientId);
      if (owner === undefined || owner.socketId !== socketId) continue;
      owners?.delete(clientId);
      removed.set(clientId, { clock: owner.clock + 1, state: 'null' });
    }
    if (owners !== undefined && owners.size === 0) this.owners.delete(shardId);
    if (removed.size > 0) this.queue(shardId, removed);
    return this.claims.release(shardId, socketId, ids);
  }

  /** Keeps this instance's claims alive (called with the members heartbeat). */
  async refresh(shardIds: readonly ShardId[]): Promise<void> {
    const held = shardIds.filter((id) => this.owners.has(id));
    if (held.length === 0) return;
    await this.claims.refresh(held);
  }

  private record(shardId: ShardId, socketId: string, entries: Map<number, AwarenessEntry>): void {
    let owners = this.owners.get(shardId);
    if (owners === undefined) this.owners.set(shardId, (owners = new Map()));
    const key = socketKey(shardId, socketId);
    let mine = this.bySocket.get(key);
    if (mine === undefined) this.bySocket.set(key, (mine = new Set()));
    for (const [clientId, entry] of entries) {
      if (entry.state === 'null') {
        if (owners.get(clientId)?.socketId === socketId) owners.delete(clientId);
        mine.delete(clientId);
      } else {
        owners.set(clientId, { socketId, clock: entry.clock });
        mine.add(clientId);
      }
    }
    if (owners.size === 0) this.owners.delete(shardId);
    if (mine.size === 0) this.bySocket.delete(key);
  }

  private queue(shardId: ShardId, entries: Map<number, AwarenessEntry>): void {
    let map = this.pending.get(shardId);
    if (map === undefined) {
      map = new Map();
      this.pending.set(shardId, map);
    }
    for (const [clientId, entry] of entries) {
      const prev = map.get(clientId);
      if (prev === undefined && map.size >= MAX_AWARENESS_ENTRIES) continue;
      if (prev === undefined || prev.clock <= entry.clock) map.set(clientId, entry);
    }
    this.timer ??= setTimeout(() => this.flush(), this.deps.tickMs ?? 50);
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = new Map();
    for (const [shardId, entries] of pending) this.deps.emit(shardId, encodeAwarenessUpdate(entries));
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.owners.clear();
    this.bySocket.clear();
  }
}

function socketKey(shardId: ShardId, socketId: string): string {
  return `${shardId} ${socketId}`;
}
