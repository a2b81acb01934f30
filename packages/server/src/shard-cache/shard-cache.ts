import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { ErrorCode, type DependencyMap, type FileEntry, type FileId, type ShardId } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { IShardRepository } from '../persistence/index.js';
import { emptySinceKey, openShardsKey, shardKeys, type ShardKeys } from '../redis/index.js';
import { ShardScripts } from './scripts.js';
import { mapScriptError, scriptErrorCode } from './script-errors.js';
import type {
  CachedMeta,
  CompactEntry,
  CompactOutcome,
  CreateFileResult,
  DeleteResult,
  EvictOutcome,
  FileSyncRead,
  RenameResult,
  ShardInspection,
  ShardSnapshot,
  TreeOpOptions,
} from './types.js';
import { stateFromText } from './ydoc.js';

export type ShardCacheDeps = {
  redis: Redis | Cluster;
  repository: IShardRepository;
  logger: Logger;
  keyPrefix: string;
  cache: Config['cache'];
  limits: Config['limits'];
  /** Called after this process loaded a shard from the database (metrics). */
  onLoad?: (shardId: ShardId, durationMs: number) => void;
};

/**
 * The live state of open shards in Redis: single-flight population from the database,
 * cluster-wide membership, and the atomic edit and file-tree steps. Holds no document in
 * memory; any instance can serve any shard.
 */
export class ShardCache {
  private readonly redis: Redis | Cluster;
  private readonly scripts: ShardScripts;
  private readonly loading = new Map<ShardId, Promise<void>>();

  constructor(private readonly deps: ShardCacheDeps) {
    this.redis = deps.redis;
    this.scripts = new ShardScripts(deps.redis);
  }

  keys(shardId: ShardId): ShardKeys {
    return shardKeys(this.deps.keyPrefix, shardId);
  }

  async isLoaded(shardId: ShardId): Promise<boolean> {
    return (await this.redis.hget(this.keys(shardId).meta, 'loaded')) === '1';
  }

  /**
   * Makes sure the shard is in Redis, loading it from the database exactly once across the
   * cluster: concurrent callers in this process share one promise, other processes wait for
   * the lock holder. A failed load leaves the shard closed (never empty).
   */
  ensureLoaded(shardId: ShardId): Promise<void> {
    const inFlight = this.loading.get(shardId);
    if (inFlight !== undefined) return inFlight;
    const promise = this.load(shardId).finally(() => this.loading.delete(shardId));
    this.loading.set(shardId, promise);
    return promise;
  }

  private async load(shardId: ShardId): Promise<void> {
    const k = this.keys(shardId);
    const deadline = Date.now() + this.deps.cache.lockTtlMs * 2;
    let waitMs = 5;
    while (Date.now() < deadline) {
      if (await this.isLoaded(shardId)) return;
      const token = randomUUID();
      const locked = await this.redis.set(k.lock, token, 'PX', this.deps.cache.lockTtlMs, 'NX');
      if (locked === 'OK') {
        try {
          // Another instance may have finished loading between our check and the lock.
          if (await this.isLoaded(shardId)) return;
          await this.populate(shardId, k);
          return;
        } finally {
          await this.scripts.unlock(k.lock, { token });
        }
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 100);
    }
    throw new AppError(
      ErrorCode.SHARD_UNAVAILABLE,
      'the shard is being loaded elsewhere and did not become ready; retry',
      {
        details: { shardId },
      },
    );
  }

  private async populate(shardId: ShardId, k: ShardKeys): Promise<void> {
    let shard;
    try {
      shard = await this.deps.repository.findById(shardId);
    } catch (error) {
      throw new AppError(ErrorCode.SHARD_UNAVAILABLE, 'the shard could not be loaded from the database; retry', {
        details: { shardId },
        cause: error,
      });
    }
    if (shard === null)
      throw new AppError(ErrorCode.SHARD_NOT_FOUND, 'no shard with this id', { details: { shardId } });
    const started = Date.now();
    // Registered first, so the sweep can clean up after a populate that dies half-way.
    await this.redis.zadd(openShardsKey(this.deps.keyPrefix), Date.now(), shardId);
    const clock = Math.max(shard.lastSyncTimestamp, ...shard.files.map((f) => f.version));
    const CHUNK = 100;
    for (let i = 0; i < shard.files.length; i += CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const f of shard.files.slice(i, i + CHUNK)) {
        pipeline.del(k.doc(f.id));
        pipeline.rpush(k.doc(f.id), Buffer.from(f.ydocState));
        pipeline.hset(k.tree, f.id, f.path);
        pipeline.hset(k.docbytes, f.id, f.ydocState.byteLength);
      }
      await execOrThrow(pipeline);
    }
    const tx = this.redis.multi();
    // The clock never moves back: after a Redis flush it restarts from the database watermark.
    tx.set(k.seq, String(clock), 'NX');
    tx.hset(k.meta, {
      name: shard.name,
      templateId: shard.templateId,
      templateRevision: String(shard.templateRevision),
      dependencies: JSON.stringify(shard.dependencies),
      devDependencies: JSON.stringify(shard.devDependencies),
      createdAt: shard.createdAt.toISOString(),
      updatedAt: shard.updatedAt.toISOString(),
      lastSyncTimestamp: String(shard.lastSyncTimestamp),
      loaded: '1',
      // Tells a sync that snapshotted an earlier load (before Redis lost the shard) from this one.
      loadId: randomUUID(),
    });
    await execOrThrow(tx);
    const durationMs = Date.now() - started;
    this.deps.logger.info({ shardId, files: shard.files.length, durationMs }, 'shard loaded into cache');
    this.deps.onLoad?.(shardId, durationMs);
  }

  async meta(shardId: ShardId): Promise<CachedMeta | null> {
    const m = await this.redis.hgetall(this.keys(shardId).meta);
    if (m['loaded'] !== '1') return null;
    return {
      id: shardId,
      name: m['name'] ?? '',
      templateId: m['templateId'] ?? '',
      templateRevision: Number(m['templateRevision'] ?? 0),
      dependencies: JSON.parse(m['dependencies'] ?? '{}') as DependencyMap,
      devDependencies: JSON.parse(m['devDependencies'] ?? '{}') as DependencyMap,
      createdAt: m['createdAt'] ?? '',
      updatedAt: m['updatedAt'] ?? '',
      lastSyncTimestamp: Number(m['lastSyncTimestamp'] ?? 0),
      firstDirtyAt: m['firstDirtyAt'] === undefined ? null : Number(m['firstDirtyAt']),
    };
  }

  /** Records what a sync wrote, so later loads of the meta show it. */
  async setSynced(
    shardId: ShardId,
    lastSyncTimestamp: number,
    dependencies?: { dependencies: DependencyMap; devDependencies: DependencyMap },
  ): Promise<void> {
    const k = this.keys(shardId);
    if (!(await this.isLoaded(shardId))) return;
    const fields: Record<string, string> = {
      lastSyncTimestamp: String(lastSyncTimestamp),
      updatedAt: new Date().toISOString(),
    };
    if (dependencies !== undefined) {
      fields['dependencies'] = JSON.stringify(dependencies.dependencies);
      fields['devDependencies'] = JSON.stringify(dependencies.devDependencies);
    }
    await this.redis.hset(k.meta, fields);
  }

  /** The shard's file tree, sorted by path. */
  async tree(shardId: ShardId): Promise<FileEntry[]> {
    const all = await this.redis.hgetall(this.keys(shardId).tree);
    return Object.entries(all)
      .map(([id, path]) => ({ id: id as FileId, path }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The current shard clock. */
  async version(shardId: ShardId): Promise<number> {
    return Number((await this.redis.get(this.keys(shardId).seq)) ?? 0);
  }

  /** All stored updates of a file, oldest first (the first is its merged state). */
  async updates(shardId: ShardId, fileId: FileId): Promise<Uint8Array[]> {
    return this.redis.lrangeBuffer(this.keys(shardId).doc(fileId), 0, -1);
  }

  /** Appends a Yjs update and marks the file dirty in one atomic step. Returns the new version. */
  async appendUpdate(shardId: ShardId, fileId: FileId, update: Uint8Array): Promise<number> {
    const k = this.keys(shardId);
    return this.loadedOp(shardId, () =>
      this.scripts.edit(k, { fileId, update, maxDocBytes: maxDocBytes(this.deps.limits) }),
    );
  }

  /**
   * Creates a file (path already canonical). Throws FILE_EXISTS, TOO_MANY_FILES. With a
   * client-chosen `fileId`, also FILE_EXISTS when the shard has or had (unsynced) that id at
   * another path; the same id at the same path is an idempotent success.
   */
  async createFile(
    shardId: ShardId,
    path: string,
    content: string,
    options: TreeOpOptions & { fileId?: FileId | undefined } = {},
  ): Promise<CreateFileResult> {
    const k = this.keys(shardId);
    const id = options.fileId ?? newFileId();
    if (Buffer.byteLength(content, 'utf8') > this.deps.limits.maxFileBytes) {
      throw new AppError(ErrorCode.FILE_TOO_LARGE, `a file may hold at most ${this.deps.limits.maxFileBytes} bytes`);
    }
    const state = stateFromText(content);
    return this.loadedOp(shardId, () =>
      this.scripts.createFile(k, {
        fileId: id,
        path,
        state,
        maxFiles: this.deps.limits.maxFilesPerShard,
        opId: options.opId,
        clientId: options.fileId !== undefined,
      }),
    );
  }

  /** Renames a file or a folder (paths canonical). */
  async rename(shardId: ShardId, from: string, to: string, options: TreeOpOptions = {}): Promise<RenameResult> {
    return this.loadedOp(shardId, () => this.scripts.rename(this.keys(shardId), { from, to, opId: options.opId }));
  }

  /** Deletes a file or a folder (path canonical). */
  async delete(shardId: ShardId, path: string, options: TreeOpOptions = {}): Promise<DeleteResult> {
    return this.loadedOp(shardId, () => this.scripts.delete(this.keys(shardId), { path, opId: options.opId }));
  }

  /** The file sync handshake's read: whether the file is in the tree, its updates, and the shard clock. */
  readForSync(shardId: ShardId, fileId: FileId): Promise<FileSyncRead> {
    return this.scripts.fileSyncRead(this.keys(shardId), { fileId });
  }

  /**
   * Runs a cache step that needs the shard loaded. If Redis lost the shard (flushed or
   * restarted without persistence) while people are in it, loads it again and retries once.
   */
  private async loadedOp<T>(shardId: ShardId, op: () => Promise<T>): Promise<T> {
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

  // ---- membership ------------------------------------------------------------------------

  /** Adds (or refreshes) a member; returns the live member count. */
  addMember(shardId: ShardId, member: string): Promise<number> {
    return this.scripts.memberAdd(this.keys(shardId).members, { member, ttlMs: this.deps.cache.memberTtlMs });
  }

  /** Removes a member; returns how many live members are left in the whole cluster. */
  removeMember(shardId: ShardId, member: string): Promise<number> {
    return this.scripts.memberRemove(this.keys(shardId).members, { member });
  }

  /** Extends the expiry of this instance's members of one shard. */
  async refreshMembers(shardId: ShardId, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    await this.scripts.memberRefresh(this.keys(shardId).members, { members, ttlMs: this.deps.cache.memberTtlMs });
  }

  /** Live members in the cluster (expired ones pruned). */
  memberCount(shardId: ShardId): Promise<number> {
    return this.scripts.memberCount(this.keys(shardId).members);
  }

  /** Shards currently cached, with the time each was opened. */
  async openShards(): Promise<ShardId[]> {
    return (await this.redis.zrange(openShardsKey(this.deps.keyPrefix), '0', '-1')) as ShardId[];
  }

  /** Scheduler view of one shard: loaded, oldest unsynced change, dirty files, live members, lock held. */
  inspect(shardId: ShardId): Promise<ShardInspection> {
    return this.scripts.inspect(this.keys(shardId));
  }

  /** Records that nobody is in the shard any more (kept if already recorded). */
  async noteEmpty(shardId: ShardId, atMs: number): Promise<void> {
    await this.redis.zadd(emptySinceKey(this.deps.keyPrefix), 'NX', atMs, shardId);
  }

  /** Forgets that the shard was empty (someone is in it again). */
  async clearEmpty(shardId: ShardId): Promise<void> {
    await this.redis.zrem(emptySinceKey(this.deps.keyPrefix), shardId);
  }

  /** When each empty shard became empty. */
  async emptySince(): Promise<Map<ShardId, number>> {
    const flat = await this.redis.zrange(emptySinceKey(this.deps.keyPrefix), '0', '-1', 'WITHSCORES');
    const out = new Map<ShardId, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as ShardId, Number(flat[i + 1]));
    return out;
  }

  /** Number of files with unsynced changes. */
  dirtyCount(shardId: ShardId): Promise<number> {
    return this.redis.zcard(this.keys(shardId).dirty);
  }

  // ---- sync support ------------------------------------------------------------------------

  /** Atomic read of the shard clock and every dirty file's updates. */
  snapshot(shardId: ShardId): Promise<ShardSnapshot> {
    return this.scripts.snapshot(this.keys(shardId));
  }

  /**
   * After a committed sync: compacts written files and clears their dirty marks, if the shard is
   * still the load the snapshot read. Otherwise (Redis lost the shard and it was loaded again)
   * it keeps the new load's clock above the committed watermark and leaves everything dirty
   * (see COMPACT). `loading`: a load is running that may have read the database before the
   * commit; call again once it is done.
   */
  async compact(
    shardId: ShardId,
    snapshot: Pick<ShardSnapshot, 'loadId' | 'seq'> & { timeMs: number },
    entries: readonly CompactEntry[],
  ): Promise<CompactOutcome> {
    return this.scripts.compact(this.keys(shardId), {
      snapshotTimeMs: snapshot.timeMs,
      loadId: snapshot.loadId,
      seq: snapshot.seq,
      entries,
    });
  }

  /** Deletes the shard's keys if nobody is in it and nothing is unsynced. */
  async evict(shardId: ShardId): Promise<EvictOutcome> {
    const outcome = await this.scripts.evict(this.keys(shardId));
    if (outcome === 'EVICTED') {
      await this.redis.zrem(openShardsKey(this.deps.keyPrefix), shardId);
      await this.redis.zrem(emptySinceKey(this.deps.keyPrefix), shardId);
      this.deps.logger.info({ shardId }, 'shard evicted from cache');
    }
    return outcome;
  }
}

/**
 * The Yjs data one file may hold in Redis between two syncs: its merged state plus every update
 * since. Edit history costs more than the text it leaves (a replace is a delete and an insert),
 * so the budget is four times the text limit; each sync compacts the list back to one state.
 */
export function maxDocBytes(limits: Config['limits']): number {
  return limits.maxFileBytes * 4;
}

/** A new random file id (16 url-safe characters). */
export function newFileId(): FileId {
  return randomBytes(12).toString('base64url') as FileId;
}

async function execOrThrow(pipeline: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<void> {
  const results = await pipeline.exec();
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error !== null) throw error;
}
