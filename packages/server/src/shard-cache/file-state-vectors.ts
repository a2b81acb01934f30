import * as Y from 'yjs';
import type { Cluster, Redis } from 'ioredis';
import type { FileId, ShardId } from '@tandem/protocol';
import { shardKeys } from '../redis/index.js';
import { advanceState, integrateIntoState, stateVectorOfState, type StateVector, type TextUpdate } from './ydoc.js';

type Entry = { loadId: string; gen: string; length: number; state: StateVector; checkedAtMs: number };

/** What `check` found: `ok` with the clocks the update moves (for noteStored). */
export type DependencyCheck = { found: 'ok'; advanced: StateVector } | { found: 'missing' | 'unknown' };

/** How long an entry is trusted without asking Redis whether the shard is still the same load (see `check`). */
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
 * Most edits need no Redis read at all: the vector only ever grows while a shard stays loaded
 * (updates are never taken back; a compaction merges them, keeping every clock), so what this
 * instance read or stored itself is a lower bound of what Redis holds. An edit that integrates
 * into the lower bound integrates into the real state; only one that does not (another instance
 * stored what it builds on, or it really lacks something) pays for a refresh. The bound holds only
 * for one load of the shard: an entry older than FRESH_MS is used again only after a read of the
 * shard's load id finds the same load (a shard that Redis lost and loaded again may hold less), so
 * a reload is seen within that time. That read is one HGET, not the file's updates: reading and
 * decoding every update since the last refresh, every 5 s per file being typed in, was a fifth of
 * what the event loop allocated under load (docs/benchmarks.md, change 30).
 */
export class FileStateVectors {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly freshMs: number;

  constructor(
    private readonly deps: {
      redis: Redis | Cluster;
      keyPrefix: string;
      maxEntries?: number;
      /** How long an entry is trusted without reading the load id (FRESH_MS; tests shorten it). */
      freshMs?: number;
    },
  ) {
    this.maxEntries = deps.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.freshMs = deps.freshMs ?? FRESH_MS;
  }

  /**
   * Whether `update` integrates into what Redis holds of the file: `unknown` when the shard is not
   * loaded or holds no updates for the file. With `ok`, the clocks it moves, for noteStored.
   */
  async check(shardId: ShardId, fileId: FileId, update: TextUpdate): Promise<DependencyCheck> {
    const cached = this.entries.get(`${shardId}/${fileId}`);
    if (cached !== undefined && (await this.stillLoaded(shardId, cached))) {
      const integrated = integrateIntoState(cached.state, update);
      if (integrated.complete) return { found: 'ok', advanced: integrated.advanced };
    }
    const state = await this.refresh(shardId, fileId);
    if (state === null) return { found: 'unknown' };
    const integrated = integrateIntoState(state, update);
    return integrated.complete ? { found: 'ok', advanced: integrated.advanced } : { found: 'missing' };
  }

  /** Records that this instance stored an update that `check` found `ok` (after a successful append). */
  noteStored(shardId: ShardId, fileId: FileId, advanced: StateVector): void {
    const entry = this.entries.get(`${shardId}/${fileId}`);
    if (entry !== undefined) advanceState(entry.state, advanced);
  }

  /** Whether `entry` is still of the shard's current load: trusted for FRESH_MS, then asked of Redis. */
  private async stillLoaded(shardId: ShardId, entry: Entry): Promise<boolean> {
    if (Date.now() - entry.checkedAtMs < this.freshMs) return true;
    const loadId = await this.deps.redis.hget(shardKeys(this.deps.keyPrefix, shardId).meta, 'loadId');
    if (loadId !== entry.loadId) return false;
    entry.checkedAtMs = Date.now();
    return true;
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
      entry.checkedAtMs = Date.now();
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
      entry = { loadId: read.loadId, gen: read.gen, length: read.length, state, checkedAtMs: Date.now() };
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
