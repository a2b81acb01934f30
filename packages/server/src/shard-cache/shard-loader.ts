import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import {
  comparePaths,
  ErrorCode,
  type DependencyMap,
  type FileEntry,
  type FileId,
  type ShardClock,
  type ShardId,
  type ShardSummary,
} from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { OP_REPLY_TTL_MS, type IShardRepository, type OpReply, type Shard } from '../persistence/index.js';
import {
  dirtyShardsKey,
  emptySinceKey,
  historyAuthorsKey,
  openShardsKey,
  presenceOwnersKey,
  shardKeys,
  type ShardKeys,
} from '../redis/index.js';
import { ShardScripts } from './scripts.js';
import { mapScriptError, scriptErrorCode } from './script-errors.js';
import type { CachedMeta } from './types.js';
import { pathIndexEntry } from './fold-path.js';

export type ShardLoaderDeps = {
  redis: Redis | Cluster;
  repository: IShardRepository;
  logger: Logger;
  keyPrefix: string;
  cache: Pick<Config['cache'], 'lockTtlMs'>;
  /**
   * Called after this process loaded a shard from the database (metrics, resync notices);
   * `announce` false: the caller that started the load tells the room itself.
   */
  onLoad?: (shardId: ShardId, durationMs: number, announce: boolean) => void;
};

/** A loaded shard as a join answers with it (ShardLoader.joinView). */
export type JoinView = {
  shard: ShardSummary;
  files: FileEntry[];
  version: number;
  clock: ShardClock | null;
  /** Whether an instance other than the joiner's may have a socket in the shard. */
  othersPresent: boolean;
};

/**
 * Loading shards into Redis: single-flight population from the database (once per open period
 * across the cluster, under the `lock` key), the loaded marker and load id, and the cached meta.
 * A failed load leaves the shard closed, never empty.
 */
export class ShardLoader {
  private readonly scripts: ShardScripts;
  private readonly loading = new Map<ShardId, Promise<boolean>>();

  constructor(private readonly deps: ShardLoaderDeps) {
    this.scripts = new ShardScripts(deps.redis);
  }

  async isLoaded(shardId: ShardId): Promise<boolean> {
    return (await this.deps.redis.hget(this.keys(shardId).meta, 'loaded')) === '1';
  }

  /**
   * Makes sure the shard is in Redis, loading it from the database exactly once across the
   * cluster: concurrent callers in this process share one promise, other processes wait for
   * the lock holder. Resolves true when this call's load populated the shard. A load is
   * announced through `onLoad` (which tells the room to resync), unless the caller that started
   * it passed `announce: false` and announces it itself (a join, once it knows who is in the room).
   */
  ensureLoaded(shardId: ShardId, options: { announce?: boolean } = {}): Promise<boolean> {
    const inFlight = this.loading.get(shardId);
    if (inFlight !== undefined) return inFlight.then(() => false);
    const promise = this.load(shardId, options.announce ?? true).finally(() => this.loading.delete(shardId));
    this.loading.set(shardId, promise);
    return promise;
  }

  /**
   * Runs a step that needs the shard loaded. If Redis lost the shard (flushed or restarted
   * without persistence) while people are in it, loads it again and retries once.
   */
  async loadedOp<T>(shardId: ShardId, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (scriptErrorCode(error) !== 'NOT_LOADED') throw mapScriptError(error, shardId);
    }
    this.deps.logger.warn({ shardId }, 'shard missing from cache during an operation; reloading');
    await this.ensureLoaded(shardId);
    try {
      return await op();
    } catch (error) {
      throw mapScriptError(error, shardId);
    }
  }

  /** The cached description of a loaded shard, or null when it is not loaded. */
  async meta(shardId: ShardId): Promise<CachedMeta | null> {
    const m = await this.deps.redis.hgetall(this.keys(shardId).meta);
    return m['loaded'] === '1' ? metaFrom(shardId, m) : null;
  }

  /**
   * What a join answers with, read in one atomic step (one round trip): the meta, the sorted tree,
   * the shard clock and the load's clock run, and whether an instance other than `instanceId` may
   * have a socket in the shard (includes/member-instances.lua; always true without `instanceId`).
   * Null when the shard is not loaded.
   */
  async joinView(shardId: ShardId, instanceId?: string): Promise<JoinView | null> {
    const read = await this.scripts.joinRead(this.keys(shardId), { instanceId });
    if (read === null) return null;
    const files = Object.entries(read.tree)
      .map(([id, path]): FileEntry =>
        read.kinds[id] === 'binary' ? { id: id as FileId, path, kind: 'binary' } : { id: id as FileId, path },
      )
      .sort((a, b) => comparePaths(a.path, b.path));
    const loadId = read.meta['loadId'];
    return {
      shard: metaFrom(shardId, read.meta),
      files,
      version: read.version,
      clock: loadId === undefined ? null : { id: loadId, base: Number(read.meta['loadVersion'] ?? 0) },
      othersPresent: read.othersPresent,
    };
  }

  /** Which run of the shard clock is current (JoinResult.clock), or null when it is not loaded. */
  async clock(shardId: ShardId): Promise<ShardClock | null> {
    const [id, base] = await this.deps.redis.hmget(this.keys(shardId).meta, 'loadId', 'loadVersion');
    if (id === null || id === undefined) return null;
    return { id, base: Number(base ?? 0) };
  }

  /** Sets the cached name of a loaded shard (no-op when it is not loaded). */
  async rename(shardId: ShardId, name: string, updatedAt: Date): Promise<void> {
    await this.scripts.renameShard(this.keys(shardId), { name, updatedAt: updatedAt.toISOString() });
  }

  /**
   * Deletes a shard for good: under the populate lock (waiting for a load in progress to finish),
   * runs `deleteRows` (the database rows), then drops every Redis key of the shard, members and
   * unsynced changes included. Holding the lock keeps a load from reading the rows before they go
   * and writing them back to Redis after the purge; once the lock is released, a load finds no
   * rows (SHARD_NOT_FOUND). A sync that snapshotted before the purge finds no row to write to
   * (SHARD_NOT_FOUND, checked inside its transaction), and its compaction finds no loaded shard.
   * Returns what `deleteRows` returned.
   */
  async purge<T>(shardId: ShardId, deleteRows: () => Promise<T>): Promise<T> {
    const k = this.keys(shardId);
    const token = await this.acquireLock(k, 'the shard is being loaded elsewhere; retry the deletion');
    try {
      const result = await deleteRows();
      await this.scripts.purge(k);
      const prefix = this.deps.keyPrefix;
      await this.deps.redis.zrem(openShardsKey(prefix), shardId);
      await this.deps.redis.zrem(emptySinceKey(prefix), shardId);
      await this.deps.redis.zrem(dirtyShardsKey(prefix), shardId);
      await this.deps.redis.del(presenceOwnersKey(prefix, shardId));
      // Who changed it since its last checkpoint: the checkpoints went with the rows.
      await this.deps.redis.del(historyAuthorsKey(prefix, shardId));
      this.deps.logger.info({ shardId }, 'shard purged from cache');
      return result;
    } finally {
      await this.scripts.unlock(k.lock, { token });
    }
  }

  /** Takes the populate lock, waiting (at most twice its TTL) for a holder to release it. */
  private async acquireLock(k: ShardKeys, timeoutMessage: string): Promise<string> {
    const deadline = Date.now() + this.deps.cache.lockTtlMs * 2;
    let waitMs = 5;
    while (Date.now() < deadline) {
      const token = randomUUID();
      if ((await this.deps.redis.set(k.lock, token, 'PX', this.deps.cache.lockTtlMs, 'NX')) === 'OK') return token;
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 100);
    }
    throw new AppError(ErrorCode.SHARD_UNAVAILABLE, timeoutMessage);
  }

  private keys(shardId: ShardId): ShardKeys {
    return shardKeys(this.deps.keyPrefix, shardId);
  }

  private async load(shardId: ShardId, announce: boolean): Promise<boolean> {
    const k = this.keys(shardId);
    const deadline = Date.now() + this.deps.cache.lockTtlMs * 2;
    let waitMs = 5;
    while (Date.now() < deadline) {
      const token = randomUUID();
      // Loaded already, or the lock, in one step (so no second look after taking it).
      const step = await this.scripts.loadLock(k, { token, ttlMs: this.deps.cache.lockTtlMs });
      if (step === 'loaded') return false;
      if (step === 'locked') {
        // A complete populate releases the lock with its last write; anything short of it here.
        let released = false;
        try {
          await this.populate(shardId, k, announce, token);
          released = true;
          return true;
        } finally {
          if (!released) await this.scripts.unlock(k.lock, { token });
        }
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 100);
    }
    throw new AppError(
      ErrorCode.SHARD_UNAVAILABLE,
      'the shard is being loaded elsewhere and did not become ready; retry',
      { details: { shardId } },
    );
  }

  /** Writes the shard's files, then its clock and meta with the loaded marker last, and releases the lock `token` holds. */
  private async populate(shardId: ShardId, k: ShardKeys, announce: boolean, token: string): Promise<void> {
    let read: { shard: Shard; opReplies: OpReply[] } | null;
    try {
      // The files and the operation replies from one snapshot (IShardRepository.findForLoad).
      read = await this.deps.repository.findForLoad(shardId);
    } catch (error) {
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard could not be loaded from the database; retry', {
        details: { shardId },
        cause: error,
      });
    }
    if (read === null) throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id', { details: { shardId } });
    const { shard, opReplies: ops } = read;
    const started = Date.now();
    const redis = this.deps.redis;
    // Registered first, so the sweep can clean up after a populate that dies half-way. On one
    // connection the commands below run after it without waiting for its reply (one round trip
    // less); a cluster may serve the key from another node, so there it is awaited first.
    const registered = redis.zadd(openShardsKey(this.deps.keyPrefix), Date.now(), shardId);
    if (redis.isCluster) await registered;
    // Above every tree written through too (IShardRepository.writeTree): a later tree must be
    // newer than the database's, and clients learn from `loadVersion` which of their file
    // operations the database already holds.
    const clock = Math.max(shard.lastSyncTimestamp, shard.treeVersion ?? 0, ...shard.files.map((f) => f.version));
    // Every stored state is synced: the shard starts with no backlog (lua/includes/shard-bytes.lua).
    const heldBytes = shard.files.reduce((sum, f) => sum + f.ydocState.byteLength, 0);
    const meta = {
      name: shard.name,
      ownerId: shard.ownerId ?? '',
      templateId: shard.templateId,
      templateRevision: String(shard.templateRevision),
      dependencies: JSON.stringify(shard.dependencies),
      devDependencies: JSON.stringify(shard.devDependencies),
      createdAt: shard.createdAt.toISOString(),
      updatedAt: shard.updatedAt.toISOString(),
      lastSyncTimestamp: String(shard.lastSyncTimestamp),
      heldBytes: String(heldBytes),
      syncedBytes: String(heldBytes),
      loaded: '1',
      // Tells a sync that snapshotted an earlier load (before Redis lost the shard) from this one.
      loadId: randomUUID(),
      // The database's highest version: versions of earlier loads up to it are in the database.
      // This load's clock starts above it (at the Redis time in microseconds, lua/populate.lua).
      loadVersion: String(clock),
    };
    // The replies of file operations the database holds (written with their trees), before the
    // loaded marker: an operation whose ack was lost, sent again now, gets its first outcome.
    // Under this load's id, which the tree write-through of a replay compares.
    if (ops.length > 0) {
      const fields = ops.flatMap((op) => {
        const reply = replyUnderLoad(op.reply, meta.loadId);
        return reply === undefined ? [] : [op.opId, reply];
      });
      if (fields.length > 0) {
        const replies = await redis
          .multi()
          .hset(k.ops, ...fields)
          .pexpire(k.ops, OP_REPLY_TTL_MS)
          .exec();
        for (const [error] of replies ?? []) if (error) throw error;
      }
    }
    // One script call per chunk of files (lua/populate.lua): at most 100 files and, unless one file
    // is larger alone, POPULATE_CHUNK_BYTES of states (a script's arguments are copied into Lua).
    // The last call also writes the clock and the meta with the loaded marker, after the files, and
    // releases the lock.
    const chunks: Array<typeof shard.files> = [[]];
    let chunkBytes = 0;
    for (const f of shard.files) {
      const size = f.ydocState.byteLength;
      const current = chunks[chunks.length - 1]!;
      if (current.length > 0 && (current.length === 100 || chunkBytes + size > POPULATE_CHUNK_BYTES)) {
        chunks.push([f]);
        chunkBytes = size;
      } else {
        current.push(f);
        chunkBytes += size;
      }
    }
    for (let c = 0; c < chunks.length; c++) {
      const files = chunks[c]!.map((f) => ({
        id: f.id,
        path: f.path,
        pathEntry: pathIndexEntry(f.path, f.id),
        // A binary file's list holds its bytes (see put-blob.lua).
        binary: f.kind === 'binary',
        state: f.ydocState,
      }));
      const last = c === chunks.length - 1;
      await Promise.all([registered, this.scripts.populate(k, { files, clock, token, meta: last ? meta : undefined })]);
    }
    const durationMs = Date.now() - started;
    this.deps.logger.info({ shardId, files: shard.files.length, durationMs }, 'shard loaded into cache');
    this.deps.onLoad?.(shardId, durationMs, announce);
  }
}

/** An operation reply (JSON, lua/includes/ops.lua) naming `loadId` as its load; undefined when unreadable. */
function replyUnderLoad(reply: string, loadId: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(reply);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return JSON.stringify({ ...parsed, load: loadId });
  } catch {
    return undefined;
  }
}

/** The states one populate call carries at most (a larger file goes alone). */
const POPULATE_CHUNK_BYTES = 8 * 1024 * 1024;

function metaFrom(shardId: ShardId, m: Record<string, string>): CachedMeta {
  return {
    id: shardId,
    name: m['name'] ?? '',
    ownerId: m['ownerId'] === undefined || m['ownerId'] === '' ? null : m['ownerId'],
    templateId: m['templateId'] ?? '',
    templateRevision: Number(m['templateRevision'] ?? 0),
    dependencies: JSON.parse(m['dependencies'] ?? '{}') as DependencyMap,
    devDependencies: JSON.parse(m['devDependencies'] ?? '{}') as DependencyMap,
    createdAt: m['createdAt'] ?? '',
    updatedAt: m['updatedAt'] ?? '',
    lastSyncTimestamp: Number(m['lastSyncTimestamp'] ?? 0),
  };
}
