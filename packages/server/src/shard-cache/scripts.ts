import type { Cluster, Redis } from 'ioredis';
import type { FileId } from '@tandem/protocol';
import type { ShardKeys } from '../redis/index.js';
import { foldPath } from './fold-path.js';
import type { AuthorNote } from './history-authors.js';
import { luaSource } from './lua-loader.js';
import type {
  CompactEntry,
  CompactOutcome,
  CreateFileResult,
  DeleteResult,
  EvictOutcome,
  FileSyncRead,
  PutBlobResult,
  RenameResult,
  ShardInspection,
  ShardSnapshot,
  SnapshotFile,
} from './types.js';

type Arg = string | Buffer | number;

/** An edit in Redis: its version, and whether another instance may have to be told of it. */
export type StoredEdit = { version: number; othersPresent: boolean };

/** A file as a load writes it (ShardScripts.populate): its path index entry is pathIndexEntry's. */
export type PopulateFile = { id: string; path: string; pathEntry: string; binary: boolean; state: Uint8Array };

/** A loaded shard as a join reads it: the hashes as field → value records, and the shard clock. */
export type JoinRead = {
  version: number;
  othersPresent: boolean;
  meta: Record<string, string>;
  tree: Record<string, string>;
  kinds: Record<string, string>;
};

/**
 * One typed wrapper per Lua script of lua/ (each file's header names its KEYS, ARGV and reply):
 * an arguments object in, a decoded object out. Scripts are registered on the connection on
 * first use (ioredis runs them by EVALSHA, loading them again after a Redis restart). Errors a
 * script returns (`redis.error_reply('<CODE>')`) reach the caller as rejected promises; see
 * script-errors.ts.
 */
export class ShardScripts {
  constructor(private readonly redis: Redis | Cluster) {}

  /**
   * → the new shard clock (the edit's version), and whether another instance than `instanceId`
   * may have a socket in the shard (always true without `instanceId`).
   */
  async edit(
    k: ShardKeys,
    a: {
      fileId: FileId;
      update: Uint8Array;
      maxDocBytes: number;
      maxUnsyncedBytes: number;
      instanceId?: string | undefined;
      /** The shard's history authors key (historyAuthorsKey), and the note to write there. */
      authorsKey: string;
      author?: AuthorNote | undefined;
    },
  ): Promise<StoredEdit> {
    const keys = [
      k.meta,
      k.tree,
      k.doc(a.fileId),
      k.dirty,
      k.seq,
      k.docbytes,
      k.kinds,
      k.memberInstances,
      a.authorsKey,
    ];
    const args = [
      a.fileId,
      toBuffer(a.update),
      a.maxDocBytes,
      a.maxUnsyncedBytes,
      a.instanceId ?? '',
      a.author?.userId ?? '',
      a.author?.value ?? '',
      a.author?.ttlMs ?? 0,
    ];
    const [version, others] = (await this.run('edit', keys, args)) as [number, number];
    return { version: Number(version), othersPresent: Number(others) === 1 };
  }

  async createFile(
    k: ShardKeys,
    a: {
      fileId: FileId;
      path: string;
      state: Uint8Array;
      maxFiles: number;
      opId?: string | undefined;
      clientId: boolean;
      maxUnsyncedBytes: number;
    },
  ): Promise<CreateFileResult> {
    const keys = [
      k.meta,
      k.tree,
      k.doc(a.fileId),
      k.dirty,
      k.seq,
      k.docbytes,
      k.ops,
      k.paths,
      k.basebytes,
      k.opsPending,
    ];
    const args = [
      a.fileId,
      a.path,
      toBuffer(a.state),
      a.maxFiles,
      a.opId ?? '',
      a.clientId ? '1' : '',
      foldPath(a.path),
      a.maxUnsyncedBytes,
    ];
    const reply = JSON.parse(String(await this.run('create-file', keys, args))) as {
      v: number | string;
      id: FileId;
      path: string;
      load: string;
      replayed?: boolean;
    };
    return {
      file: { id: reply.id, path: reply.path },
      version: Number(reply.v),
      replayed: reply.replayed === true,
      loadId: reply.load,
    };
  }

  /** Creates a binary file at `path`, or replaces the bytes of the one there. */
  async putBlob(
    k: ShardKeys,
    a: { fileId: FileId; path: string; bytes: Uint8Array; maxFiles: number; maxUnsyncedBytes: number },
  ): Promise<PutBlobResult> {
    const keys = [k.meta, k.tree, k.dirty, k.seq, k.docbytes, k.paths, k.basebytes, k.gen, k.kinds];
    const args = [k.docPrefix, a.fileId, a.path, foldPath(a.path), toBuffer(a.bytes), a.maxFiles, a.maxUnsyncedBytes];
    const reply = JSON.parse(String(await this.run('put-blob', keys, args))) as {
      v: number | string;
      id: FileId;
      path: string;
      created: boolean;
      load: string;
    };
    return {
      file: { id: reply.id, path: reply.path, kind: 'binary' },
      version: Number(reply.v),
      created: reply.created,
      loadId: reply.load,
    };
  }

  async rename(k: ShardKeys, a: { from: string; to: string; opId?: string | undefined }): Promise<RenameResult> {
    const keys = [k.meta, k.tree, k.dirty, k.seq, k.ops, k.paths, k.opsPending];
    const raw = await this.run('rename', keys, [a.from, a.to, a.opId ?? '', foldPath(a.from), foldPath(a.to)]);
    const reply = JSON.parse(String(raw)) as {
      v: number | string;
      moves: Array<[FileId, string, string]>;
      load: string;
      replayed?: boolean;
    };
    return {
      moves: reply.moves.map(([id, from, to]) => ({ id, from, to })),
      version: Number(reply.v),
      replayed: reply.replayed === true,
      loadId: reply.load,
    };
  }

  async delete(k: ShardKeys, a: { path: string; opId?: string | undefined }): Promise<DeleteResult> {
    const keys = [k.meta, k.tree, k.dirty, k.seq, k.ops, k.paths, k.opsPending];
    const raw = await this.run('delete', keys, [a.path, a.opId ?? '', foldPath(a.path)]);
    const reply = JSON.parse(String(raw)) as {
      v: number | string;
      files: Array<[FileId, string]>;
      load: string;
      replayed?: boolean;
    };
    return {
      files: reply.files.map(([id, path]) => ({ id, path })),
      version: Number(reply.v),
      replayed: reply.replayed === true,
      loadId: reply.load,
    };
  }

  /** → live members after adding (or refreshing) one. `instanceId`: the socket member's instance. */
  async memberAdd(k: ShardKeys, a: { member: string; ttlMs: number; instanceId?: string }): Promise<number> {
    return Number(
      await this.run('member-add', [k.members, k.memberInstances], [a.member, a.ttlMs, a.instanceId ?? '']),
    );
  }

  /** → live members left in the whole cluster. `instanceId`: the socket member's instance. */
  async memberRemove(k: ShardKeys, a: { member: string; instanceId?: string }): Promise<number> {
    return Number(await this.run('member-remove', [k.members, k.memberInstances], [a.member, a.instanceId ?? '']));
  }

  /** → how many members were added or changed (all of them `instanceId`'s). */
  async memberRefresh(
    k: ShardKeys,
    a: { members: readonly string[]; ttlMs: number; instanceId: string },
  ): Promise<number> {
    return Number(
      await this.run('member-refresh', [k.members, k.memberInstances], [a.ttlMs, a.instanceId, ...a.members]),
    );
  }

  async memberCount(membersKey: string): Promise<number> {
    return Number(await this.run('member-count', [membersKey], []));
  }

  /** Marks shards as possibly dirty (dirty-shards counter + 1 each). */
  async dirtyMark(dirtyShardsKey: string, shardIds: readonly string[]): Promise<void> {
    await this.run('dirty-mark', [dirtyShardsKey], [...shardIds]);
  }

  /** Drops marks whose counter is still the one seen. → how many were dropped. */
  async dirtyUnmark(dirtyShardsKey: string, seen: ReadonlyArray<readonly [string, number]>): Promise<number> {
    return Number(await this.run('dirty-unmark', [dirtyShardsKey], seen.flat()));
  }

  /** → true when the instance's entry was new (first beat, lost, or taken for dead). */
  async instanceBeat(
    instancesKey: string,
    a: { instanceId: string; memberTtlMs: number; heartbeatMs: number; leaseMs: number },
  ): Promise<boolean> {
    const args = [a.instanceId, a.memberTtlMs, a.heartbeatMs, a.leaseMs];
    return Number(await this.run('instance-beat', [instancesKey], args)) === 1;
  }

  /** → the instances whose heartbeat lapsed (removed from the set), with their lease bounds. */
  async instancesExpire(instancesKey: string): Promise<Array<{ instanceId: string; leaseBound: number }>> {
    const flat = (await this.run('instances-expire', [instancesKey], [])) as string[];
    const out: Array<{ instanceId: string; leaseBound: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ instanceId: String(flat[i]), leaseBound: Number(flat[i + 1]) });
    }
    return out;
  }

  /** → whether the lock was ours and is released. */
  /** A load's first step: 'loaded', 'locked' (the caller now holds the lock) or 'busy'. */
  async loadLock(k: ShardKeys, a: { token: string; ttlMs: number }): Promise<'loaded' | 'locked' | 'busy'> {
    return (await this.run('load-lock', [k.meta, k.lock], [a.token, a.ttlMs])) as 'loaded' | 'locked' | 'busy';
  }

  /**
   * The join's read of a loaded shard (meta, tree, kinds, clock) and whether an instance other than
   * `instanceId` may have a socket in it (always true without `instanceId`); null when not loaded.
   */
  async joinRead(k: ShardKeys, a: { instanceId?: string | undefined }): Promise<JoinRead | null> {
    const keys = [k.meta, k.tree, k.kinds, k.seq, k.memberInstances];
    const raw = (await this.run('join-read', keys, [a.instanceId ?? ''])) as [
      string,
      string,
      string,
      string[]?,
      string[]?,
      string[]?,
    ];
    const [loaded, version, others, meta = [], tree = [], kinds = []] = raw;
    if (loaded !== '1') return null;
    return {
      version: Number(version),
      othersPresent: others === '1',
      meta: pairs(meta),
      tree: pairs(tree),
      kinds: pairs(kinds),
    };
  }

  /**
   * Writes one chunk of a load's files and, with `meta` (the last chunk), the shard clock
   * (`clock` unless it has one) and the meta with its loaded marker, then releases the populate
   * lock if `token` still holds it (lua/populate.lua).
   */
  async populate(
    k: ShardKeys,
    a: { files: readonly PopulateFile[]; clock: number; token: string; meta?: Record<string, string> | undefined },
  ): Promise<void> {
    const keys = [k.tree, k.kinds, k.paths, k.docbytes, k.basebytes, k.seq, k.meta, k.lock];
    const args: Arg[] = [k.docPrefix, a.files.length, a.meta === undefined ? '' : '1', a.clock, a.token];
    for (const f of a.files) args.push(f.id, f.path, f.pathEntry, f.binary ? 'binary' : 'text', toBuffer(f.state));
    if (a.meta !== undefined) for (const [field, value] of Object.entries(a.meta)) args.push(field, value);
    await this.run('populate', keys, args);
  }

  async unlock(lockKey: string, a: { token: string }): Promise<boolean> {
    return Number(await this.run('unlock', [lockKey], [a.token])) === 1;
  }

  async snapshot(k: ShardKeys): Promise<ShardSnapshot> {
    const keys = [k.meta, k.tree, k.dirty, k.seq, k.gen, k.kinds, k.opsPending];
    const raw = await this.run('snapshot', keys, [k.docPrefix], true);
    const [loaded, clock, firstDirtyAt, loadId, pending, ...entries] = raw as [
      Buffer,
      Buffer,
      Buffer,
      Buffer,
      Buffer[],
      ...Buffer[][],
    ];
    const ops: Array<{ opId: string; reply: string }> = [];
    for (let i = 0; i + 1 < pending.length; i += 2)
      ops.push({ opId: pending[i]!.toString('utf8'), reply: pending[i + 1]!.toString('utf8') });
    const files = entries.map((entry): SnapshotFile => {
      const [id, version, path, gen, kind, ...updates] = entry as [Buffer, Buffer, Buffer, Buffer, Buffer, ...Buffer[]];
      const p = path.toString('utf8');
      return {
        id: id.toString('utf8') as FileId,
        version: Number(version.toString()),
        path: p === '' ? null : p,
        gen: gen.toString(),
        ...(kind.toString() === 'binary' ? { kind: 'binary' as const } : {}),
        updates,
      };
    });
    return {
      loaded: loaded.toString() === '1',
      version: Number(clock.toString()),
      firstDirtyAt: nullIfZero(Number(firstDirtyAt.toString())),
      loadId: loadId.toString(),
      ops,
      files,
    };
  }

  async compact(
    k: ShardKeys,
    a: { snapshotTimeMs: number; loadId: string; version: number; entries: readonly CompactEntry[] },
  ): Promise<CompactOutcome> {
    const keys = [k.meta, k.tree, k.dirty, k.gen, k.docbytes, k.seq, k.lock, k.basebytes, k.kinds];
    const args: Arg[] = [k.docPrefix, a.snapshotTimeMs, a.loadId, a.version];
    for (const e of a.entries) args.push(e.id, e.version, e.gen, e.count, toBuffer(e.state));
    const [kind, left] = (await this.run('compact', keys, args)) as [string, number?];
    if (kind === 'LOADING') return { kind: 'loading' };
    if (kind === 'STALE') return { kind: 'stale' };
    return { kind: 'compacted', dirtyLeft: Number(left) };
  }

  async evict(k: ShardKeys): Promise<EvictOutcome> {
    const keys = [
      k.meta,
      k.tree,
      k.dirty,
      k.members,
      k.lock,
      k.seq,
      k.gen,
      k.docbytes,
      k.ops,
      k.paths,
      k.basebytes,
      k.kinds,
      k.memberInstances,
      k.opsPending,
    ];
    return String(await this.run('evict', keys, [k.docPrefix])) as EvictOutcome;
  }

  /** → how many keys were deleted. */
  async purge(k: ShardKeys): Promise<number> {
    const keys = [
      k.meta,
      k.tree,
      k.dirty,
      k.members,
      k.seq,
      k.gen,
      k.docbytes,
      k.ops,
      k.paths,
      k.basebytes,
      k.kinds,
      k.memberInstances,
      k.opsPending,
    ];
    return Number(await this.run('purge', keys, [k.docPrefix]));
  }

  /** → whether the shard was loaded (and its cached name changed). */
  async renameShard(k: ShardKeys, a: { name: string; updatedAt: string }): Promise<boolean> {
    return Number(await this.run('rename-shard', [k.meta], [a.name, a.updatedAt])) === 1;
  }

  async inspect(
    k: ShardKeys,
    dead: ReadonlyArray<{ instanceId: string; leaseBound: number }> = [],
  ): Promise<ShardInspection> {
    const keys = [k.meta, k.dirty, k.members, k.lock, k.docbytes];
    const args: Arg[] = [k.docPrefix];
    for (const d of dead) args.push(d.instanceId, d.leaseBound);
    const raw = (await this.run('inspect', keys, args)) as Array<string | number>;
    const [loaded, firstDirtyAt, dirtyFiles, liveMembers, locked, unsyncedUpdates, unsyncedBytes, expired] = raw;
    return {
      loaded: loaded === '1',
      firstDirtyAt: nullIfZero(Number(firstDirtyAt)),
      dirtyFiles: Number(dirtyFiles),
      liveMembers: Number(liveMembers),
      locked: Number(locked) === 1,
      unsyncedUpdates: Number(unsyncedUpdates),
      unsyncedBytes: Number(unsyncedBytes),
      expiredMembers: Number(expired),
    };
  }

  async fileSyncRead(k: ShardKeys, a: { fileId: FileId }): Promise<FileSyncRead> {
    const keys = [k.meta, k.tree, k.doc(a.fileId), k.seq, k.kinds];
    const raw = await this.run('file-sync-read', keys, [a.fileId], true);
    const [loaded, inTree, version, binary, ...updates] = raw as [Buffer, Buffer, Buffer, Buffer, ...Buffer[]];
    return {
      loaded: loaded.toString() === '1',
      inTree: inTree.toString() === '1',
      binary: binary.toString() === '1',
      version: Number(version.toString()),
      updates,
    };
  }

  /** Runs lua/<name>.lua, registering it on this connection first; `buffers`: replies as Buffers. */
  private run(name: string, keys: string[], args: Arg[], buffers = false): Promise<unknown> {
    const command = `tandem_${name.replaceAll('-', '_')}`;
    const redis = this.redis as unknown as Record<string, ((...a: Arg[]) => Promise<unknown>) | undefined>;
    if (redis[command] === undefined) {
      this.redis.defineCommand(command, { numberOfKeys: keys.length, lua: luaSource(name) });
    }
    const fn = redis[buffers ? `${command}Buffer` : command] as (...a: Arg[]) => Promise<unknown>;
    return fn.call(this.redis, ...keys, ...args);
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function nullIfZero(n: number): number | null {
  return n === 0 ? null : n;
}

/** A flat HGETALL reply (field, value, field, value, …) as a record. */
function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
