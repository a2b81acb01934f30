import type { FileEntry, FileId, ShardSummary } from '@tandem/protocol';

/** The cached description of an open shard: the shared shard model, as the API shows it. */
export type CachedMeta = ShardSummary;

/** One dirty file as an atomic snapshot reads it. */
export type SnapshotFile = {
  id: FileId;
  /** Shard clock of the file's last change. */
  version: number;
  /** null when the file was deleted. */
  path: string | null;
  gen: string;
  /** `binary` for a binary file, whose bytes are the last of `updates`. */
  kind?: 'binary';
  updates: Uint8Array[];
};

export type ShardSnapshot = {
  loaded: boolean;
  /** The shard clock when the snapshot was read. */
  version: number;
  firstDirtyAt: number | null;
  /** Which load of the shard into Redis the snapshot read ('' for none). */
  loadId: string;
  /**
   * Replies of file operations stored in Redis whose tree was not written through (the instance
   * died first): the sync writes them with its batch (SyncBatch.ops).
   */
  ops: Array<{ opId: string; reply: string }>;
  files: SnapshotFile[];
};

export type CompactEntry = { id: FileId; version: number; gen: string; count: number; state: Uint8Array };

/**
 * What compaction did: `compacted` the load the snapshot read; `stale`: the shard is no longer
 * that load (reloaded or not cached), nothing was trimmed and every change stays dirty;
 * `loading`: a load is running, try again when it is done.
 */
export type CompactOutcome = { kind: 'compacted'; dirtyLeft: number } | { kind: 'stale' } | { kind: 'loading' };

export type EvictOutcome = 'EVICTED' | 'MEMBERS' | 'DIRTY' | 'LOCKED';

export type ShardInspection = {
  loaded: boolean;
  firstDirtyAt: number | null;
  dirtyFiles: number;
  liveMembers: number;
  locked: boolean;
  /** Yjs updates not yet in the database (all dirty files). */
  unsyncedUpdates: number;
  /** Bytes Redis holds for the dirty files (their state plus unsynced updates). */
  unsyncedBytes: number;
  /** Members whose expiry passed (their instance stopped its heartbeat), pruned by this inspection. */
  expiredMembers: number;
};

/** Options of an idempotent tree operation: the same `opId` again returns the first outcome. */
export type TreeOpOptions = { opId?: string | undefined };

/** `replayed`: the operation id was seen before; nothing was applied and this is the first outcome. */
/** `loadId`: the load of the shard the operation was stored in (see ShardLoader: a new one after Redis lost the shard). */
export type CreateFileResult = { file: FileEntry; version: number; replayed: boolean; loadId: string };
export type RenameResult = {
  moves: Array<{ id: FileId; from: string; to: string }>;
  version: number;
  replayed: boolean;
  loadId: string;
};
export type DeleteResult = { files: FileEntry[]; version: number; replayed: boolean; loadId: string };

/** The file sync handshake's read: the file's updates and the shard clock, in one atomic step. */
export type FileSyncRead = {
  loaded: boolean;
  inTree: boolean;
  /** The file is binary: it has no Yjs document (and `updates` is empty). */
  binary: boolean;
  updates: Uint8Array[];
  version: number;
};

/** A binary file put: `created` when the path held no file before. */
export type PutBlobResult = { file: FileEntry; version: number; created: boolean; loadId: string };
