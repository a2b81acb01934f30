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
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (shardId: ShardId, update: Uint8Array) => void,
    private readonly tickMs = 50,
  ) {}

  /** Validates and queues an awareness update. Returns false when it does not decode. */
  push(shardId: ShardId, update: Uint8Array): boolean {
    const entries = decodeAwarenessUpdate(update);
    if (entries === null) return false;
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
    return true;
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
