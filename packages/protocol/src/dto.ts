import type { FileId, ShardId } from './ids.js';

/** The name of the Y.Text that holds a file's content in its Yjs document, on every side. */
export const TEXT_NAME = 'content';

/** Pinned package versions, name → exact version. */
export type DependencyMap = Record<string, string>;

/**
 * What a file holds: `text` (a Yjs document edited together, the default) or `binary` (an image,
 * a font, any other bytes: kept as a blob, replaced whole by an upload, never edited as text).
 */
export type FileKind = 'text' | 'binary';

/** One file in a shard's tree. */
export type FileEntry = {
  id: FileId;
  /** Canonical relative POSIX path. */
  path: string;
  /** `binary` for a blob (read it with `GET /shards/:id/files/<path>`); absent for a text file. */
  kind?: 'binary';
};

/**
 * A shard's description, the one model every layer shares: `Time` is an ISO string on the wire
 * (`ShardSummary`) and a `Date` in the database layer (`ShardMeta` in the server).
 */
export type ShardMetaOf<Time> = {
  id: ShardId;
  name: string;
  /**
   * The `sub` of the token that created the shard (its owner: may read, write, rename and delete
   * it without a `shards` claim), or null for shards created before owners were recorded.
   */
  ownerId: string | null;
  templateId: string;
  templateRevision: number;
  dependencies: DependencyMap;
  devDependencies: DependencyMap;
  createdAt: Time;
  /**
   * When the shard last changed: an edit, a file operation or upload (also not synced yet: written
   * within about a second of the change, before any sync), a sync, or a rename.
   */
  updatedAt: Time;
  /**
   * The sync watermark: the shard clock value up to which the database holds every change (the
   * brief's `last_sync_timestamp`: a logical time from the shard clock, never a wall clock).
   */
  lastSyncTimestamp: number;
};

/** A shard without its file contents, as the API returns it. */
export type ShardSummary = ShardMetaOf<string>;

/** A shard with its file tree. */
export type ShardDetail = ShardSummary & { files: FileEntry[] };

/** One template of the catalogue as listed by the API (without file contents). */
export type TemplateSummary = {
  id: string;
  revision: number;
  title: string;
  description?: string;
  framework: string;
  language: 'js' | 'ts';
  runtime: 'static' | 'browser' | 'node';
  transforms: string[];
  entry: string;
  activeFile: string;
  openFiles?: string[];
  dependencies: DependencyMap;
  devDependencies: DependencyMap;
  files: string[];
};

/** What the server answers to `shard:join`. */
export type JoinResult = {
  shard: ShardSummary;
  files: FileEntry[];
  /** Whether the token lets this user write. */
  canWrite: boolean;
  /** The shard clock now; every later event carries a higher version. */
  version: number;
  /**
   * Which run of the shard clock `version` belongs to. `id` changes each time the shard is
   * loaded into Redis (after Redis lost it, or after it was closed); `base` is the value the
   * clock started at in that load (the database watermark then). Versions of another `id` are not
   * comparable with this clock's: an acknowledged change with such a version is in the database
   * only if its version is at most `base` (protocol §8, "Replay after a rejoin").
   */
  clock?: ShardClock;
};

/** A run of the shard clock (see JoinResult.clock). */
export type ShardClock = { id: string; base: number };

/** What the server answers to `file:sync`: step 2 of the Yjs sync protocol plus its own step 1. */
export type FileSyncResult = {
  fileId: FileId;
  /** The updates the client lacks (Y.encodeStateAsUpdate against the client's state vector). */
  update: Uint8Array;
  /** The server's state vector, so the client can send what the server lacks. */
  stateVector: Uint8Array;
  /**
   * The shard clock when the server read the file: at least the version of every update it
   * holds for it. A client whose edit's ack was lost uses it in place of that edit's version:
   * once `shard:saved` reaches it, the edit is in the database.
   */
  version: number;
};

/**
 * A tree change as broadcast to the room. `replaced`: a binary file's bytes were replaced by an
 * upload (same id and path; read it again).
 */
export type TreeChange =
  | { kind: 'created'; file: FileEntry }
  | { kind: 'replaced'; file: FileEntry }
  | { kind: 'renamed'; moves: Array<{ id: FileId; from: string; to: string }> }
  | { kind: 'deleted'; files: FileEntry[] };

/** One page of `GET /shards`: the shards the caller may read, most recently updated first. */
export type ShardPage = {
  shards: ShardSummary[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
};

/** One match of `GET /shards/:id/search`. */
export type SearchMatch = {
  fileId: FileId;
  path: string;
  /** 1-based line number. */
  line: number;
  /** 1-based column (in UTF-16 code units, as editors count) where the match starts. */
  column: number;
  /** Length of the match in UTF-16 code units. */
  length: number;
  /** The matched line, cut to at most 240 characters around the match. */
  preview: string;
  /** Column (1-based) of the match within `preview`. */
  previewColumn: number;
};

/** What `GET /shards/:id/search` answers: matches in path order, then line order. */
export type SearchResult = {
  matches: SearchMatch[];
  /** True when more matches exist than the limit let through. */
  truncated: boolean;
  /** Files read (a truncated search stops early). */
  filesSearched: number;
};
