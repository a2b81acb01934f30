import * as Y from 'yjs';
import type { Cluster, Redis } from 'ioredis';
import type { FileId, ShardId } from '@tandem/protocol';
import { shardKeys } from '../redis/index.js';
import { advanceState, integrateIntoState, stateVectorOfState, type StateVector, type TextUpdate } from './ydoc.js';

type Entry = { loadId: string; gen: string; length: number; state: StateVector; readAtMs: number };

/** How long an entry is trusted without reading Redis (see `check`). */
const FRESH_MS = 5_000;

/** Files whose state vectors one instance keeps (least recently used ones are dropped). */
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * The state vector of each file's stored updates (what the server holds of it), so an edit can be
 * checked against it before it is stored (see integrateIntoState). Kept per instance. A refresh
 * reads, in one MULTI, the shard's load id, the file's compaction generation and only the updates
 * appended since the last refresh, so its cost follows the edits made since, not the file's size
 * or history; a new load or a compaction (the list was rewritten) starts again from the list's
 * first entry, which is then a full state whose vector Yjs reads without building a document.
 *
 * Most edits need no Redis read at all: the vector only ever grows (updates are never taken back
 * while a shard stays loaded), so what this instance read or stored itself is a lower bound of
 * what Redis holds. An edit that integrates into the lower bound integrates into the real state;
 * only one that does not (another instance stored what it builds on, or it really lacks
 * something) pays for a refresh. Entries are refreshed at least every FRESH_MS anyway, so a
 * shard that Redis lost and loaded again is seen within that time.
 */
export class FileStateVectors {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(private readonly deps: { redis: Redis | Cluster; keyPrefix: string; maxEntries?: number }) {
    this.maxEntries = deps.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /**
   * Whether `update` integrates into what Redis holds of the file: `unknown` when the shard is not
   * loaded or holds no updates for the file.
   */
  async check(shardId: ShardId, fileId: FileId, update: TextUpdate): Promise<'ok' | 'missing' | 'unknown'> {
    const cached = this.entries.get(`${shardId}/${fileId}`);
    if (cached !== undefined && Date.now() - cached.readAtMs < FRESH_MS) {
      if (integrateIntoState(cached.state, update).complete) return 'ok';
    }
    const state = await this.refresh(shardId, fileId);
    if (state === null) return 'unknown';
    return integrateIntoState(state, update).complete ? 'ok' : 'missing';
  }

  /** Records that this instance stored `update` for the file (after a successful append). */
  noteStored(shardId: ShardId, fileId: FileId, update: TextUpdate): void {
    const entry = this.entries.get(`${shardId}/${fileId}`);
    if (entry !== undefined) advanceState(entry.state, integrateIntoState(entry.state, update).advanced);
  }

  /**
   * The state vector of what Redis holds for the file, read now, or null when the shard is not
   * loaded or the file has no updates there. Do not change the returned map.
   */
  async refresh(shardId: ShardId, fileId: FileId): Promise<StateVector | null> {
    const key = `${shardId}/${fileId}`;
    const cached = this.entries.get(key);
    let read = await this.read(shardId, fileId, cached?.length ?? 0);
    if (read === null) {
      this.entries.delete(key);
      return null;
    }
    let entry: Entry;
    if (
      cached !== undefined &&
      read.loadId === cached.loadId &&
      read.gen === cached.gen &&
      read.length >= cached.length
    ) {
      entry = cached;
      fold(entry.state, read.tail);
      entry.length = read.length;
      entry.readAtMs = Date.now();
    } else {
      if (cached !== undefined && cached.length > 0) read = await this.read(shardId, fileId, 0);
      if (read === null) {
        this.entries.delete(key);
        return null;
      }
      const [first, ...rest] = read.tail;
      if (first === undefined) return null;
      const state = stateVectorOfState(first);
      fold(state, rest);
      entry = { loadId: read.loadId, gen: read.gen, length: read.length, state, readAtMs: Date.now() };
    }
    // Most recently used last: re-inserting moves the key to the end of the Map's order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return entry.state;
  }

  private async read(
    shardId: ShardId,
    fileId: FileId,
    from: number,
  ): Promise<{ loadId: string; gen: string; length: number; tail: Buffer[] } | null> {
    const k = shardKeys(this.deps.keyPrefix, shardId);
    const doc = k.doc(fileId);
    const results = await this.deps.redis
      .multi()
      .hget(k.meta, 'loadId')
      .hget(k.gen, fileId)
      .hexists(k.kinds, fileId)
      .llen(doc)
      .lrangeBuffer(doc, from, -1)
      .exec();
    if (results === null) throw new Error('Redis transaction was aborted');
    for (const [error] of results) if (error !== null) throw error;
    const [loadId, gen, binary, length, tail] = results.map(([, value]) => value) as [
      string | null,
      string | null,
      number,
      number,
      Buffer[],
    ];
    // A binary file's list holds its bytes, not Yjs updates: no state vector (edit.lua refuses it).
    if (loadId === null || length === 0 || binary === 1) return null;
    return { loadId, gen: gen ?? '0', length, tail };
  }
}

/** Integrates stored updates into `state` (they were checked when stored; what still fails is skipped). */
function fold(state: StateVector, updates: readonly Uint8Array[]): void {
  for (const update of updates) {
    let decoded;
    try {
      decoded = Y.decodeUpdate(update);
    } catch {
      // Stored before updates were checked this way; it adds nothing a document could integrate.
      continue;
    }
    advanceState(state, integrateIntoState(state, decoded).advanced);
  }
}
