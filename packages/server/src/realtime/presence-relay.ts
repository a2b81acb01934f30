import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { presenceOwnersKey, shardKeys } from '../redis/index.js';

type Entry = { clock: number; state: string };

/** Most awareness entries kept per shard between two flushes. */
const MAX_ENTRIES_PER_SHARD = 1000;

/**
 * Awareness client ids one socket may speak for in one shard. An editor has one (its Awareness's
 * doc client id); a few more cover a reconnect that picked a new one before the old one was
 * announced gone.
 */
export const MAX_CLIENT_IDS_PER_SOCKET = 4;

/** Longest `user.name` relayed, in characters. */
export const MAX_PRESENCE_NAME_LENGTH = 64;

/** Why a presence update was refused. */
export type PresenceRefusal = 'malformed' | 'invalid-user' | 'too-many-client-ids' | 'not-yours';

/**
 * Claims awareness client ids for a member (`<instance>:<socket>`), cluster-wide. An id is free
 * when nobody holds it or its holder is no longer a live member of the shard (its instance died,
 * or it left without releasing). KEYS: owners hash, the shard's members zset. ARGV: member, ttlMs,
 * client ids… → 1 claimed (all of them), 0 one is held by another live member (none claimed).
 */
const CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner and owner ~= ARGV[1] then
    local expiry = redis.call('ZSCORE', KEYS[2], owner)
    if expiry and tonumber(expiry) > now then return 0 end
  end
end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Releases the ids a member still holds. KEYS: owners hash. ARGV: member, client ids… */
const RELEASE = `
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
`;

type Scripts = {
  tandemPresenceClaim(...args: Array<string | number>): Promise<number>;
  tandemPresenceRelease(...args: Array<string | number>): Promise<number>;
};

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
 * Redis against the shard's live members, so a socket on one instance can neither rewrite nor
 * remove presence owned on another. One socket may hold at most MAX_CLIENT_IDS_PER_SOCKET ids, so
 * the tables stay small and a leave costs what that socket held. The `user` fields collaborators'
 * editors render (name, colour) are validated before anything is relayed.
 */
export class PresenceRelay {
  private pending = new Map<ShardId, Map<number, Entry>>();
  /** Per shard: awareness client id → the local socket that owns it, with the last clock seen. */
  private readonly owners = new Map<ShardId, Map<number, { socketId: string; clock: number }>>();
  /** Per shard and local socket (`shardId socketId`): the client ids it owns. */
  private readonly bySocket = new Map<string, Set<number>>();
  private readonly redis: (Redis | Cluster) & Scripts;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PresenceRelayDeps) {
    const redis = deps.redis as (Redis | Cluster) & Partial<Scripts>;
    if (redis.tandemPresenceClaim === undefined)
      deps.redis.defineCommand('tandemPresenceClaim', { numberOfKeys: 2, lua: CLAIM });
    if (redis.tandemPresenceRelease === undefined) {
      deps.redis.defineCommand('tandemPresenceRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    this.redis = deps.redis as (Redis | Cluster) & Scripts;
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
    const member = this.member(socketId);
    const k = this.ownerKeys(shardId);
    if (unclaimed.length > 0) {
      // Also for a removal (state null) of an id nobody here holds: it may be held elsewhere.
      const claimed = await this.redis.tandemPresenceClaim(
        k.owners,
        k.members,
        member,
        this.deps.claimTtlMs,
        ...unclaimed,
      );
      if (claimed !== 1) return 'not-yours';
      if (!stillJoined()) {
        await this.redis.tandemPresenceRelease(k.owners, member, ...unclaimed);
        return 'ok';
      }
      // Re-checked after the round trip: another local socket may have taken an id meanwhile.
      for (const clientId of claiming) {
        const owner = this.owners.get(shardId)?.get(clientId);
        if (owner !== undefined && owner.socketId !== socketId) return 'not-yours';
      }
    }
    this.record(shardId, socketId, entries);
    this.queue(shardId, entries);
    const gone = [...entries].filter(([, entry]) => entry.state === 'null').map(([clientId]) => clientId);
    if (gone.length > 0) await this.redis.tandemPresenceRelease(k.owners, member, ...gone);
    return 'ok';
  }

  /** A socket left the shard: announce its clients as gone (state null, next clock) and release them. */
  removeSocket(shardId: ShardId, socketId: string): Promise<void> {
    const key = socketKey(shardId, socketId);
    const ids = this.bySocket.get(key);
    this.bySocket.delete(key);
    if (ids === undefined || ids.size === 0) return Promise.resolve();
    const owners = this.owners.get(shardId);
    const removed = new Map<number, Entry>();
    for (const clientId of ids) {
      const owner = owners?.get(clientId);
      if (owner === undefined || owner.socketId !== socketId) continue;
      owners?.delete(clientId);
      removed.set(clientId, { clock: owner.clock + 1, state: 'null' });
    }
    if (owners !== undefined && owners.size === 0) this.owners.delete(shardId);
    if (removed.size > 0) this.queue(shardId, removed);
    const k = this.ownerKeys(shardId);
    return this.redis.tandemPresenceRelease(k.owners, this.member(socketId), ...ids).then(() => undefined);
  }

  /** Keeps this instance's claims alive (called with the members heartbeat). */
  async refresh(shardIds: readonly ShardId[]): Promise<void> {
    const held = shardIds.filter((id) => this.owners.has(id));
    if (held.length === 0) return;
    await Promise.all(
      held.map((id) => this.redis.pexpire(presenceOwnersKey(this.deps.keyPrefix, id), this.deps.claimTtlMs)),
    );
  }

  private record(shardId: ShardId, socketId: string, entries: Map<number, Entry>): void {
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

  private member(socketId: string): string {
    return `${this.deps.instanceId}:${socketId}`;
  }

  private ownerKeys(shardId: ShardId): { owners: string; members: string } {
    return {
      owners: presenceOwnersKey(this.deps.keyPrefix, shardId),
      members: shardKeys(this.deps.keyPrefix, shardId).members,
    };
  }

  private queue(shardId: ShardId, entries: Map<number, Entry>): void {
    let map = this.pending.get(shardId);
    if (map === undefined) {
      map = new Map();
      this.pending.set(shardId, map);
    }
    for (const [clientId, entry] of entries) {
      const prev = map.get(clientId);
      if (prev === undefined && map.size >= MAX_ENTRIES_PER_SHARD) continue;
      if (prev === undefined || prev.clock <= entry.clock) map.set(clientId, entry);
    }
    this.timer ??= setTimeout(() => this.flush(), this.deps.tickMs ?? 50);
  }

  private flush(): void {
    this.timer = undefined;
    const pending = this.pending;
    this.pending = new Map();
    for (const [shardId, entries] of pending) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, entries.size);
      for (const [clientId, { clock, state }] of entries) {
        encoding.writeVarUint(encoder, clientId);
        encoding.writeVarUint(encoder, clock);
        encoding.writeVarString(encoder, state);
      }
      this.deps.emit(shardId, encoding.toUint8Array(encoder));
    }
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

/** The number of entries an awareness update announces (0 when it does not even say). */
function entryCount(update: Uint8Array): number {
  try {
    return decoding.readVarUint(decoding.createDecoder(update));
  } catch {
    // Not even a count: decodeAwarenessUpdate reports it as malformed.
    return 0;
  }
}

/** Decodes a y-protocols awareness update; null when malformed (states must be JSON unless told not to check). */
export function decodeAwarenessUpdate(
  update: Uint8Array,
  options: { parseStates?: boolean } = {},
): Map<number, Entry> | null {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    if (count > MAX_ENTRIES_PER_SHARD) return null;
    const out = new Map<number, Entry>();
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state = decoding.readVarString(decoder);
      if (options.parseStates !== false) JSON.parse(state);
      out.set(clientId, { clock, state });
    }
    if (decoding.hasContent(decoder)) return null;
    return out;
  } catch {
    // Truncated varints, bad UTF-8 or bad JSON all mean a malformed update.
    return null;
  }
}

// A CSS hex colour: #rgb, #rgba, #rrggbb or #rrggbbaa (editors append an alpha for selections).
const HEX_COLOR_RE = /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
// Control, format (bidi, zero-width), line/paragraph separators, lone surrogates.
const UNPRINTABLE_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/**
 * True when the fields collaborators' editors render are safe to relay: `user`, if present, is an
 * object whose `name` is 1–MAX_PRESENCE_NAME_LENGTH printable characters and whose `color` and
 * `colorLight` are hex colours (editors put them into CSS: `red;position:fixed;…` drew a
 * full-page overlay over everyone's editor). `null` (a client leaving) is always fine.
 */
export function isRelayableState(json: string): boolean {
  const state = JSON.parse(json) as unknown;
  if (state === null) return true;
  if (typeof state !== 'object' || Array.isArray(state)) return false;
  if (!Object.hasOwn(state, 'user')) return true;
  const user = (state as { user: unknown }).user;
  if (user === null || user === undefined) return true;
  if (typeof user !== 'object' || Array.isArray(user)) return false;
  const fields = user as Record<string, unknown>;
  if (Object.hasOwn(fields, 'name')) {
    const name = fields['name'];
    if (typeof name !== 'string' || name.trim() === '' || [...name].length > MAX_PRESENCE_NAME_LENGTH) return false;
    if (UNPRINTABLE_RE.test(name)) return false;
  }
  for (const field of ['color', 'colorLight']) {
    if (!Object.hasOwn(fields, field)) continue;
    const value = fields[field];
    if (typeof value !== 'string' || !HEX_COLOR_RE.test(value)) return false;
  }
  return true;
}
