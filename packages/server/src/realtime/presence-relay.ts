import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { ShardId } from '@tandem/protocol';

type Entry = { clock: number; state: string };

/** Most awareness entries kept per shard between two flushes. */
const MAX_ENTRIES_PER_SHARD = 1000;

/**
 * Coalesces awareness (presence) updates per shard and per tick: many cursor moves within one
 * tick become one message per room, holding only the newest state of each client. This keeps
 * a busy room from turning into N² traffic (yjs/yjs#732). Nothing is stored.
 */
export class PresenceRelay {
  private pending = new Map<ShardId, Map<number, Entry>>();
  /** Per shard: awareness client id → the socket that owns it, with the last clock seen. */
  private readonly owners = new Map<ShardId, Map<number, { socketId: string; clock: number }>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (shardId: ShardId, update: Uint8Array) => void,
    private readonly tickMs = 50,
  ) {}

  /**
   * Validates and queues an awareness update from one socket. A client id belongs to the first
   * socket of this instance that used it, so one user cannot move or remove another's presence.
   */
  push(shardId: ShardId, socketId: string, update: Uint8Array): 'ok' | 'malformed' | 'not-yours' {
    const entries = decodeAwarenessUpdate(update);
    if (entries === null) return 'malformed';
    let owners = this.owners.get(shardId);
    if (owners === undefined) {
      owners = new Map();
      this.owners.set(shardId, owners);
    }
    for (const clientId of entries.keys()) {
      const owner = owners.get(clientId);
      if (owner !== undefined && owner.socketId !== socketId) return 'not-yours';
    }
    for (const [clientId, entry] of entries) {
      if (entry.state === 'null') owners.delete(clientId);
      else owners.set(clientId, { socketId, clock: entry.clock });
    }
    this.queue(shardId, entries);
    return 'ok';
  }

  /** A socket left the shard: announce its clients as gone (state null, next clock). */
  removeSocket(shardId: ShardId, socketId: string): void {
    const owners = this.owners.get(shardId);
    if (owners === undefined) return;
    const removed = new Map<number, Entry>();
    for (const [clientId, owner] of owners) {
      if (owner.socketId !== socketId) continue;
      owners.delete(clientId);
      removed.set(clientId, { clock: owner.clock + 1, state: 'null' });
    }
    if (owners.size === 0) this.owners.delete(shardId);
    if (removed.size > 0) this.queue(shardId, removed);
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
    this.timer ??= setTimeout(() => this.flush(), this.tickMs);
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
      this.emit(shardId, encoding.toUint8Array(encoder));
    }
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.owners.clear();
  }
}

/** Decodes a y-protocols awareness update; null when malformed. */
export function decodeAwarenessUpdate(update: Uint8Array): Map<number, Entry> | null {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    if (count > MAX_ENTRIES_PER_SHARD) return null;
    const out = new Map<number, Entry>();
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state = decoding.readVarString(decoder);
      JSON.parse(state);
      out.set(clientId, { clock, state });
    }
    if (decoding.hasContent(decoder)) return null;
    return out;
  } catch {
    // Truncated varints, bad UTF-8 or bad JSON all mean a malformed update.
    return null;
  }
}
