import { comparePaths, type FileEntry, type FileId, type TreeChange } from '@tandem/protocol';
import { applyTreeOp, type TreeOp } from './tree-ops.js';
import type { AckedOp } from './tree-op-queue.js';

/** This client's file operations, shown over the server's tree. */
export interface LocalTreeOps {
  ackedOps(): readonly AckedOp[];
  queuedOps(): TreeOp[];
}

/**
 * The file tree of a session: the server's (the join's, then each `tree:changed` applied once),
 * and the tree shown, which adds this client's acknowledged operations whose notice has not
 * arrived and its queued ones.
 */
export class FileTree {
  /** The tree as the server last told it. */
  private server: Map<FileId, string>;
  /** Ids of the binary files the server told of (a file keeps its kind for life). */
  private readonly binary = new Set<FileId>();
  /** The server's, plus acked operations not yet broadcast, plus queued ones. */
  private shown = new Map<FileId, string>();
  /** Versions of `tree:changed` applied since the last join (and the join's version). */
  private base: number;
  private readonly seen = new Set<number>();
  /**
   * The version of the newest notice applied to each file since the join. Notices from different
   * instances arrive out of version order (a create's after the delete that followed it): each
   * one changes a file only if it is newer than what the file shows, so the tree ends as the
   * server's whatever the order.
   */
  private changedAt = new Map<FileId, number>();
  /** Tree notices since the last join request, re-applied over the join's tree when newer. */
  private sinceJoin: Array<{ change: TreeChange; version: number }> = [];

  constructor(
    files: FileEntry[],
    version: number,
    private readonly local: LocalTreeOps,
    /** A notice deleted this file on the server, at this version. */
    private readonly fileDeleted: (id: FileId, version: number) => void,
  ) {
    this.server = new Map(files.map((f) => [f.id, f.path]));
    this.noteKinds(files);
    this.base = version;
  }

  /** The tree shown, sorted by path; binary files carry `kind: 'binary'`. */
  entries(): FileEntry[] {
    return [...this.shown]
      .map(([id, path]): FileEntry => (this.binary.has(id) ? { id, path, kind: 'binary' } : { id, path }))
      .sort((a, b) => comparePaths(a.path, b.path));
  }

  /** Whether the file is binary (an image, a font: read its bytes over REST, no Y.Text). */
  isBinary(id: FileId): boolean {
    return this.binary.has(id);
  }

  has(id: FileId): boolean {
    return this.shown.has(id);
  }

  pathOf(id: FileId): string | undefined {
    return this.shown.get(id);
  }

  idOf(path: string): FileId | undefined {
    for (const [id, p] of this.shown) if (p === path) return id;
    return undefined;
  }

  /**
   * Applies a `tree:changed` to the server's tree, unless it was applied or is older than the
   * join; of a file a newer notice changed already, it changes nothing.
   */
  apply(change: TreeChange, version: number): boolean {
    if (version <= this.base || this.seen.has(version)) return false;
    this.seen.add(version);
    switch (change.kind) {
      case 'created':
        this.noteKinds([change.file]);
        if (this.changes(change.file.id, version)) this.server.set(change.file.id, change.file.path);
        break;
      case 'replaced':
        // New bytes of a binary file: the tree is unchanged; the session's `tree` event carries
        // the change, so editors and previews read the file again.
        break;
      case 'renamed':
        for (const m of change.moves) if (this.changes(m.id, version)) this.server.set(m.id, m.to);
        break;
      case 'deleted':
        for (const f of change.files) {
          if (!this.changes(f.id, version)) continue;
          this.server.delete(f.id);
          this.fileDeleted(f.id, version);
        }
        break;
    }
    return true;
  }

  /** Whether a notice at `version` is the newest about the file yet (and records it if so). */
  private changes(id: FileId, version: number): boolean {
    if ((this.changedAt.get(id) ?? 0) > version) return false;
    this.changedAt.set(id, version);
    return true;
  }

  /** Whether no notice newer than `version` changed the file. */
  private unchangedSince(id: FileId, version: number): boolean {
    return (this.changedAt.get(id) ?? 0) < version;
  }

  /** A join request goes out: notices from now on may be newer than its answer. */
  startJoin(): void {
    this.sinceJoin = [];
  }

  /** A notice arrived while a join was in flight (the join's tree may be older than it). */
  noteDuringJoin(change: TreeChange, version: number): void {
    this.sinceJoin.push({ change, version });
  }

  /** The join answered with the server's tree at `version`; notices newer than it still apply. */
  joined(files: FileEntry[], version: number): void {
    this.server = new Map(files.map((f) => [f.id, f.path]));
    this.noteKinds(files);
    this.base = version;
    this.seen.clear();
    this.changedAt = new Map();
    for (const e of this.sinceJoin) if (e.version > version) this.apply(e.change, e.version);
    this.sinceJoin = [];
  }

  private noteKinds(files: readonly FileEntry[]): void {
    for (const f of files) if (f.kind === 'binary') this.binary.add(f.id);
  }

  /**
   * Recomputes the tree shown: the server's, then acknowledged operations whose notice has not
   * arrived (on the files no newer notice changed), then queued ones.
   */
  refresh(): void {
    const view = new Map(this.server);
    for (const e of this.local.ackedOps())
      if (e.version > this.base && !this.seen.has(e.version))
        applyTreeOp(view, e.op, (id) => this.unchangedSince(id, e.version));
    for (const op of this.local.queuedOps()) applyTreeOp(view, op);
    this.shown = view;
  }
}
