import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import {
  type Ack,
  type ClientPayload,
  type ClientToServerEvents,
  type FileEntry,
  type FileId,
  type JoinResult,
  type ShardClock,
  type ShardId,
  type ShardSummary,
  type TreeChange,
} from '@tandem/protocol';
import { request, requestWhileConnected, type AckData, type TandemSocket } from './socket-types.js';
import type { Refusal, SessionEvents, SessionStatus } from './session-events.js';
import { TandemError, unwrap } from './tandem-error.js';
import { Emitter } from './emitter.js';
import { GapWatch } from './gap-watch.js';
import { Rejoiner } from './rejoiner.js';
import { SaveTracker } from './save-tracker.js';
import type { TreeOp } from './tree-ops.js';
import { TreeOpQueue } from './tree-op-queue.js';
import { FileTree } from './file-tree.js';
import { PresenceSync } from './presence-sync.js';
import { FileSync } from './file-sync.js';
import type { SessionLink } from './session-link.js';
import { listenToShard } from './shard-notices.js';
import {
  applyTextChange,
  newPackageJson,
  packageNameProblem,
  readDependencies,
  versionProblem,
  withDependency,
  withoutDependency,
  type DependencyInput,
  type PackageDependencies,
  type VersionResolver,
} from './package-json.js';

/** The file the dependency methods read and write. */
const PACKAGE_JSON = 'package.json';

/** Options of a session (set through TandemClientOptions). */
export type SessionOptions = {
  /**
   * How long a gap in the versions seen (a missed notice), or a remote update whose
   * dependencies are missing, may stay open before the session rejoins or resyncs the file.
   * Notices from different instances can be reordered by a few milliseconds. Default 1000.
   */
  gapWaitMs?: number;
  /** How long to wait for each ack before counting it as lost (the change is then resynced). Default 30 000. */
  ackTimeoutMs?: number;
};

export type { Refusal, SessionEvents, SessionStatus, TreeOpFailure } from './session-events.js';
export type { PresenceUser } from './presence-sync.js';
export { toU8 } from './socket-types.js';

/** Early notices: those that reached the socket while the join was in flight. */
export type EarlyNotice = { version: number; change?: TreeChange };

/**
 * One joined shard: its file tree, a Y.Doc per opened file kept in sync with the server,
 * presence (a y-protocols Awareness), file operations (queued while offline) and status.
 * Created by TandemClient.join().
 *
 * The session itself joins and rejoins (protocol §10) and routes the server's notices; each
 * concern is a part it wires together: FileTree, FileSync (open files), TreeOpQueue (file
 * operations), PresenceSync, GapWatch (missed notices), SaveTracker (status) and Rejoiner.
 */
export class ShardSession extends Emitter<SessionEvents> {
  readonly shardId: ShardId;
  shard: ShardSummary;
  canWrite: boolean;
  /** Presence of everyone in the shard (one Awareness per shard; its doc is not a file). */
  readonly awareness: Awareness;
  private readonly presence: PresenceSync;
  private readonly fileTree: FileTree;
  private readonly files: FileSync;
  private readonly saves: SaveTracker;
  private readonly gaps: GapWatch;
  private readonly rejoiner: Rejoiner;
  private readonly ops: TreeOpQueue;
  private joined = true;
  private joinPending = false;
  /** A `shard:resync` said the shard was loaded again: its clock may have restarted. */
  private reloaded = false;
  /**
   * The last rejoin ran to its end (replays and handshakes): until then what the server lost
   * may not be back, so the session is not saved even if every version it knows of is.
   */
  private caughtUp = true;
  /** The run of the shard clock our versions are from (JoinResult.clock; servers before it send none). */
  private clock: ShardClock | undefined;
  private closed = false;
  /** The shard was deleted (see the `deleted` event). */
  deleted = false;
  private readonly stopListening: () => void;
  private readonly ackTimeoutMs: number;

  /** @internal use TandemClient.join() */
  constructor(
    private readonly socket: TandemSocket,
    joined: JoinResult,
    /** Notices that arrived while the join was in flight. */
    early: EarlyNotice[] = [],
    options: SessionOptions = {},
  ) {
    super();
    const gapWaitMs = options.gapWaitMs ?? 1000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.shardId = joined.shard.id;
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    this.clock = joined.clock;
    // The parts reach each other only through these closures, called after construction.
    this.saves = new SaveTracker(
      joined.shard.lastSyncTimestamp,
      {
        isConnected: () => this.socket.connected,
        isJoined: () => this.joined,
        isClosed: () => this.closed,
        hasUnconfirmed: () => this.hasUnconfirmed(),
        hasRefusals: () => this.files.hasRefusals(),
      },
      (status) => this.emit('status', status),
    );
    const link: SessionLink = {
      shardId: this.shardId,
      canWrite: () => this.canWrite,
      isConnected: () => this.socket.connected,
      isJoined: () => this.isJoined(),
      isClosed: () => this.closed,
      request: (event, payload) => this.request(event, payload),
      lostJoin: () => {
        this.joined = false;
        this.rejoiner.schedule();
      },
      updateStatus: () => this.saves.update(),
      emit: (event, ...args) => this.emit(event, ...args),
    };
    this.ops = new TreeOpQueue(link, {
      stored: (version) => {
        this.saves.require(version);
        this.gaps.see(version);
      },
      treeChanged: () => this.refreshTree(null),
      fileMoved: (from, to) => this.files.move(from, to),
      created: (fileId) => this.files.syncCreated(fileId),
      discardCreated: (fileId) => this.files.discard(fileId),
    });
    this.files = new FileSync(
      link,
      {
        pathOf: (id) => this.fileTree.pathOf(id),
        isCreateQueued: (id) => this.ops.isCreateQueued(id),
        require: (version) => this.saves.require(version),
        seeVersion: (version) => this.gaps.record(version),
        editSettled: () => this.gaps.check(),
      },
      gapWaitMs,
    );
    this.gaps = new GapWatch(joined.version, gapWaitMs, {
      isClosed: () => this.closed,
      isConnected: () => this.socket.connected,
      isAwaitingAnswers: () => this.files.hasUnacked() || this.ops.isInFlight() || this.rejoiner.isRunning(),
      rejoin: () => this.rejoiner.start(),
    });
    this.rejoiner = new Rejoiner({
      isClosed: () => this.closed,
      isConnected: () => this.socket.connected,
      join: () => this.joinAgain(),
      settled: () => {
        this.saves.update();
        this.gaps.check();
      },
      failed: (error) => this.emit('error', error),
    });
    this.fileTree = new FileTree(joined.files, joined.version, this.ops, (id, version) =>
      this.files.deletedRemotely(id, version),
    );
    for (const e of early) {
      if (e.version <= joined.version) continue;
      this.gaps.record(e.version);
      if (e.change !== undefined) this.fileTree.apply(e.change, e.version);
    }
    this.fileTree.refresh();
    this.presence = new PresenceSync(socket, this.shardId, () => this.closed);
    this.awareness = this.presence.awareness;
    this.stopListening = this.listen();
    this.saves.update();
    this.gaps.check();
  }

  get status(): SessionStatus {
    return this.saves.status;
  }

  /** The file tree, sorted by path (including operations not yet applied by the server). */
  tree(): FileEntry[] {
    return this.fileTree.entries();
  }

  /** The id of the file at `path`, if any. */
  fileId(path: string): FileId | undefined {
    return this.fileTree.idOf(path);
  }

  /** Edits refused for good and not dismissed yet, one per file. */
  refused(): Refusal[] {
    return this.files.refused();
  }

  /** The user has seen (and saved elsewhere if they wished) the text of a refused edit. */
  dismissRefusal(fileId: FileId): void {
    this.files.dismissRefusal(fileId);
  }

  /** File operations waiting to be applied by the server, oldest first. */
  queuedOps(): TreeOp[] {
    return this.ops.queuedOps();
  }

  /**
   * Opens a file: returns its Y.Text once the initial sync finished. Local changes to the text
   * are sent to the server; remote ones are applied. Open the same file twice → same Y.Text
   * (until a refused edit replaces the document: see the `reset` event).
   * @example
   * const text = await session.openFile('src/App.tsx')
   * text.insert(0, '// hello\n')
   */
  async openFile(pathOrId: string): Promise<Y.Text> {
    const id = this.resolveId(pathOrId);
    if (id === undefined)
      throw new TandemError({ code: 'FILE_NOT_FOUND', message: `no file "${pathOrId}" in the shard` });
    if (this.fileTree.isBinary(id)) {
      throw new TandemError({
        code: 'FILE_KIND_MISMATCH',
        message: `"${pathOrId}" is a binary file: read its bytes with TandemRest.readBinaryFile`,
      });
    }
    return this.files.text(id);
  }

  /** Whether a file of the tree is binary (an image, a font…): no Y.Text, its bytes come over REST. */
  isBinary(pathOrId: string): boolean {
    const id = this.resolveId(pathOrId);
    return id !== undefined && this.fileTree.isBinary(id);
  }

  // ---- dependencies ---------------------------------------------------------------------------

  /**
   * The `dependencies` and `devDependencies` of the shard's package.json as it is now, live (null
   * when there is no package.json or it does not parse: someone is typing into it).
   */
  async dependencies(): Promise<PackageDependencies | null> {
    if (this.fileId(PACKAGE_JSON) === undefined) return null;
    return readDependencies((await this.openFile(PACKAGE_JSON)).toString());
  }

  /**
   * Adds a dependency or changes its version (`version` defaults to `latest`; `dev` puts it in
   * devDependencies), by editing package.json through its shared document: collaborators (and
   * their previews) see the change at once, and it is saved like any edit. Creates package.json
   * when the shard has none. With `resolveVersion` (see cdnVersionResolver) a range or tag is
   * written as the exact version it stands for, which is what a preview's import map needs.
   * Throws VALIDATION_FAILED for a bad name or version (or one the resolver does not know), or
   * when package.json does not parse.
   * @example
   * await session.setDependency({ name: 'canvas-confetti' }, { resolveVersion: cdnVersionResolver(cdnUrl) })
   */
  async setDependency(
    dependency: DependencyInput,
    options: { resolveVersion?: VersionResolver } = {},
  ): Promise<PackageDependencies> {
    const requested = dependency.version?.trim() ?? 'latest';
    const problem = packageNameProblem(dependency.name) ?? versionProblem(requested);
    if (problem !== null) {
      throw new TandemError({ code: 'VALIDATION_FAILED', message: problem, details: { name: dependency.name } });
    }
    const version =
      options.resolveVersion === undefined ? requested : await options.resolveVersion(dependency.name, requested);
    const input = { ...dependency, version };
    if (this.fileId(PACKAGE_JSON) === undefined) {
      const text = newPackageJson(input);
      await this.createFile(PACKAGE_JSON, text);
      return readDependencies(text) ?? { dependencies: {}, devDependencies: {} };
    }
    const text = await this.openFile(PACKAGE_JSON);
    applyTextChange(text, withDependency(text.toString(), input));
    return readDependencies(text.toString()) ?? { dependencies: {}, devDependencies: {} };
  }

  /** Removes a dependency (from both maps) by editing package.json through its shared document. */
  async removeDependency(name: string): Promise<PackageDependencies> {
    if (this.fileId(PACKAGE_JSON) === undefined) return { dependencies: {}, devDependencies: {} };
    const text = await this.openFile(PACKAGE_JSON);
    applyTextChange(text, withoutDependency(text.toString(), name));
    return readDependencies(text.toString()) ?? { dependencies: {}, devDependencies: {} };
  }

  /** The Y.Doc of an opened file. */
  doc(fileId: FileId): Y.Doc | undefined {
    return this.files.doc(fileId);
  }

  /** Closes a file: stops syncing it and frees its document. */
  closeFile(pathOrId: string): void {
    const id = this.resolveId(pathOrId);
    if (id !== undefined) this.files.close(id);
  }

  /**
   * Creates a file. It appears in the tree at once (with its final id, so it can be opened and
   * typed into even offline); the promise resolves once the server applied it, or rejects with a
   * plain-words TandemError when it no longer applies (also reported as `op-failed`). `content`
   * is inserted locally as an ordinary edit, so a replay never duplicates it.
   */
  async createFile(path: string, content = ''): Promise<FileEntry> {
    const { fileId, applied } = this.ops.create(path);
    if (content !== '' && this.canWrite) this.files.localText(fileId).insert(0, content);
    return (await applied).file;
  }

  /** Renames or moves a file or folder (queued like createFile). */
  async rename(from: string, to: string): Promise<Array<{ id: FileId; from: string; to: string }>> {
    return (await this.ops.rename(from, to)).moves;
  }

  /** Deletes a file or folder (queued like createFile). */
  async delete(path: string): Promise<FileEntry[]> {
    return (await this.ops.delete(path)).files;
  }

  /** Sets this user's presence fields (merged into the local awareness state). */
  setPresence(fields: Record<string, unknown>): void {
    this.presence.set(fields);
  }

  /** Resolves when every local change so far is acknowledged (in Redis). */
  async flushed(timeoutMs = 30_000): Promise<void> {
    await this.saves.waitFor(() => this.isJoined() && !this.hasUnconfirmed(), timeoutMs, 'changes to be acknowledged');
  }

  /** Resolves when every local change is in the database (status `saved`). */
  async saved(timeoutMs = 60_000): Promise<void> {
    await this.saves.waitFor(() => this.saves.compute() === 'saved', timeoutMs, 'changes to be saved');
  }

  /** Leaves the shard and frees every document. Queued file operations are dropped. */
  async leave(): Promise<void> {
    if (this.closed) return;
    // Tell the others we are gone before going quiet.
    this.presence.remove();
    this.shutDown();
    if (this.socket.connected) {
      await request(this.socket, 'shard:leave', { shardId: this.shardId }, this.ackTimeoutMs).catch(() => undefined);
    }
  }

  private shutDown(): void {
    this.closed = true;
    this.rejoiner.close();
    this.gaps.close();
    this.stopListening();
    this.files.closeAll();
    this.ops.close();
    this.presence.close();
  }

  /** The shard is gone (a notice, or a rejoin that found no shard): close and say so once. */
  private markDeleted(): void {
    if (this.closed) return;
    this.deleted = true;
    this.shutDown();
    this.emit('deleted');
  }

  // ---- rejoin ---------------------------------------------------------------------------------

  /**
   * @internal called by the client after a reconnect, on `shard:resync`, and by the session when
   * the server no longer counts it as joined or a notice was missed: join again, replay file
   * operations, and resync every open file. One at a time (a request during one runs once more
   * after it). A failed rejoin is retried with backoff while connected.
   */
  rejoin(): Promise<void> {
    return this.rejoiner.rejoin();
  }

  private async joinAgain(): Promise<void> {
    if (this.closed) return;
    this.joined = false;
    this.caughtUp = false;
    this.fileTree.startJoin();
    this.saves.joining();
    this.saves.update();
    this.joinPending = true;
    const ack = await this.request('shard:join', { shardId: this.shardId }).finally(() => {
      this.joinPending = false;
    });
    // Deleted while we were away (the notice went to a socket we no longer had).
    if (!ack.ok && ack.error.code === 'SHARD_NOT_FOUND') {
      this.markDeleted();
      return;
    }
    const joined = unwrap(ack);
    if (this.closed) return;
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    // Which clock our versions are from: the server names its run (JoinResult.clock); a client
    // that was offline when Redis lost the shard hears of it only here, and the new clock may
    // already be past the versions it had. Without the name: the clock went back, or a resync.
    const before = this.clock;
    const after = joined.clock;
    const restarted =
      before !== undefined && after !== undefined
        ? before.id !== after.id
        : joined.version < this.gaps.upTo || this.reloaded;
    this.reloaded = false;
    this.clock = after;
    if (restarted) {
      // The shard clock restarted (Redis lost the shard and it was reloaded from the database):
      // versions from before are meaningless now. What the reload lacks, the operation replay and
      // the handshakes below send again and get new versions for.
      this.saves.restart(joined.version, joined.shard.lastSyncTimestamp);
      this.ops.clockRestarted(before !== undefined && after !== undefined ? after.base : 0);
    } else {
      this.saves.markSaved(joined.shard.lastSyncTimestamp);
      this.files.forgetSaved(joined.shard.lastSyncTimestamp);
    }
    this.gaps.reset(joined.version);
    this.ops.forgetSaved(joined.shard.lastSyncTimestamp);
    this.fileTree.joined(joined.files, joined.version);
    this.joined = true;
    this.refreshTree(null);
    // File operations before the handshakes (§10 steps 3, 4): a file created again after Redis
    // lost the shard must exist, with its id, before its handshake restores its text.
    await this.ops.resend();
    // A file deleted by a notice whose deletion Redis lost with the shard is back in the tree:
    // its document (with edits the reload may lack) is open again for the handshakes.
    this.files.reviveDeleted((id) => this.fileTree.has(id), restarted);
    await this.files.syncAll();
    this.caughtUp = true;
    this.presence.sendFull();
  }

  /** @internal */
  markOffline(): void {
    if (this.closed) return;
    this.joined = false;
    this.saves.update();
  }

  // ---- notices --------------------------------------------------------------------------------

  private listen(): () => void {
    return listenToShard(this.socket, this.shardId, {
      edited: (fileId, update, version) => {
        this.files.applyRemote(fileId, update);
        this.gaps.see(version);
      },
      treeChanged: (change, version) => {
        if (change.kind === 'deleted') this.ops.filesDeleted(change.files.map((f) => f.id));
        // While a rejoin is in flight, the join's tree may be older than this notice.
        if (!this.joined) this.fileTree.noteDuringJoin(change, version);
        if (this.fileTree.apply(change, version)) this.refreshTree(change);
        this.gaps.see(version);
      },
      presenceUpdated: (update) => this.presence.applyRemote(update),
      presenceRequested: (version) => {
        this.presence.sendFull();
        if (version !== undefined) this.gaps.expect(version);
      },
      saved: (version) => {
        // Before our rejoin after a reload, the notice is of a clock our versions are not from.
        if (this.reloaded) return;
        this.saves.markSaved(version);
        this.ops.forgetSaved(version);
        this.files.forgetSaved(version);
        this.emit('saved', this.saves.saved);
        this.saves.update();
      },
      resync: () => {
        // A resync while our join is pending belongs to the load that join caused: its answer is newer.
        if (this.closed || this.joinPending) return;
        // The server reloaded the shard and may lack our recent changes: rejoin (fresh tree,
        // replayed file operations) and run the handshake again for every open file. Not joined
        // (nor saved) until then: the reloaded clock's versions are not comparable with ours.
        this.reloaded = true;
        this.joined = false;
        this.saves.update();
        this.rejoiner.start();
      },
      restored: (event) => this.emit('restored', event),
      checkpointed: (event) => this.emit('checkpointed', event),
      deleted: () => this.markDeleted(),
      renamed: (name) => {
        this.shard = { ...this.shard, name };
        this.emit('renamed', name);
      },
      error: (error) => this.emit('error', error),
    });
  }

  // ---- tree -----------------------------------------------------------------------------------

  private refreshTree(change: TreeChange | null): void {
    if (this.closed) return;
    this.fileTree.refresh();
    this.files.followPaths();
    this.emit('tree', this.tree(), change);
  }

  private resolveId(pathOrId: string): FileId | undefined {
    return this.fileTree.has(pathOrId as FileId) || this.files.isOpen(pathOrId as FileId)
      ? (pathOrId as FileId)
      : this.fileId(pathOrId);
  }

  // ---- status ---------------------------------------------------------------------------------

  private isJoined(): boolean {
    return this.joined && this.socket.connected;
  }

  private hasUnconfirmed(): boolean {
    return !this.caughtUp || this.ops.isBusy() || this.files.hasUnconfirmed();
  }

  private request<E extends keyof ClientToServerEvents>(event: E, payload: ClientPayload<E>): Promise<Ack<AckData<E>>> {
    return requestWhileConnected(this.socket, event, payload, this.ackTimeoutMs);
  }
}
