import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import {
  comparePaths,
  describePathProblem,
  isRetryableError,
  normalizePath,
  TEXT_NAME,
  type Ack,
  type ClientToServerEvents,
  type ErrorBody,
  type FileEntry,
  type FileId,
  type JoinResult,
  type ShardId,
  type ShardSummary,
  type TreeChange,
} from '@tandem/protocol';
import { request, type AckData, type TandemSocket } from './socket-types.js';
import { TandemError, unwrap } from './tandem-error.js';
import { Emitter } from './emitter.js';
import { VersionTracker } from './version-tracker.js';
import { applyTreeOp, describeTreeOpFailure, randomId, type TreeOp } from './tree-ops.js';

/** Origin of updates that came from the server; they are never sent back. */
const REMOTE = Symbol('tandem-remote');

/**
 * What an editor shows about its connection to a shard:
 * - `connecting`: (re)joining after a connect or reconnect
 * - `syncing`: joined; some local change (edit or file operation) not yet acknowledged, or
 *   acknowledged only by a handshake still running
 * - `live`: joined, every local change acknowledged (in Redis), some not yet in the database —
 *   or an edit was refused and the refusal is not dismissed yet
 * - `saved`: every local change is in the database, none is refused
 * - `offline`: disconnected; local edits and file operations are kept and sent on reconnect
 */
export type SessionStatus = 'connecting' | 'syncing' | 'live' | 'saved' | 'offline';

/** An edit the server refused for good (too large, read-only, malformed…). */
export type Refusal = {
  fileId: FileId;
  /** The file's path when the edit was refused. */
  path: string;
  error: ErrorBody;
  /** The file's text in this client when the refusal arrived (what the user would lose). */
  localText: string;
};

/** A file operation (create, rename, delete) that the server did not apply. */
export type TreeOpFailure = {
  op: TreeOp;
  /** What happened, in plain words naming the files. */
  message: string;
  error: ErrorBody;
  /** For a create: the text typed into the file before it failed (else undefined). */
  localText?: string;
};

export type SessionEvents = {
  status: [SessionStatus];
  /** The file tree changed (from anyone, including this client, and queued operations). */
  tree: [FileEntry[], TreeChange | null];
  /** The database now holds the shard up to this version. */
  saved: [number];
  /** A refused edit (also reported as `refused`, with the same error object) or a server notice. */
  error: [ErrorBody];
  /**
   * The server refused an edit for good. The file returns to the server's state (see `reset`);
   * `localText` is the user's text as it was. `status` is not `saved` until dismissRefusal().
   */
  refused: [Refusal];
  /** A file's document was replaced (after a refusal): editors must bind to the new `text`. */
  reset: [{ fileId: FileId; text: Y.Text }];
  /** A file operation no longer applies; the tree shows the server's state again. */
  'op-failed': [TreeOpFailure];
  /** The number of file operations waiting to be applied by the server changed. */
  queue: [number];
};

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

type OpenFile = {
  id: FileId;
  /** Its last known path (kept when the file disappears from the tree, to name it to the user). */
  path: string;
  doc: Y.Doc;
  text: Y.Text;
  ready: Promise<void>;
  unsubscribe: () => void;
  /** Local edits the server may lack (ack lost, refused for now, made offline): a handshake must run. */
  unconfirmed: number;
  /** The missing dependencies already reported to the server by a handshake (not worth another). */
  knownPending: string | null;
  pendingTimer: ReturnType<typeof setTimeout> | undefined;
  syncTimer: ReturnType<typeof setTimeout> | undefined;
  syncDelayMs: number;
};

type QueuedOp = {
  op: TreeOp;
  queuedOffline: boolean;
  resolve: (data: unknown) => void;
  reject: (error: TandemError) => void;
};

/** Local user shown to others. */
export type PresenceUser = { id: string; name: string; color: string; colorLight?: string };

/** Early notices: those that reached the socket while the join was in flight. */
export type EarlyNotice = { version: number; change?: TreeChange };

/**
 * One joined shard: its file tree, a Y.Doc per opened file kept in sync with the server,
 * presence (a y-protocols Awareness), file operations (queued while offline) and status.
 * Created by TandemClient.join().
 */
export class ShardSession extends Emitter<SessionEvents> {
  readonly shardId: ShardId;
  shard: ShardSummary;
  canWrite: boolean;
  /** Presence of everyone in the shard (one Awareness per shard; its doc is not a file). */
  readonly awareness: Awareness;
  /** The tree as the server last told it. */
  private serverFiles = new Map<FileId, string>();
  /** The tree shown: the server's, plus acked operations not yet broadcast, plus queued ones. */
  private files = new Map<FileId, string>();
  private readonly open = new Map<FileId, OpenFile>();
  private unacked = 0;
  /** The version the database must reach before everything acknowledged is saved. */
  private requiredVersion = 0;
  private savedVersion = 0;
  private readonly versions: VersionTracker;
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly refusals = new Map<FileId, Refusal>();
  private readonly queue: QueuedOp[] = [];
  /** Acknowledged file operations not yet known to be in the database: replayed after every rejoin. */
  private ackedOps: Array<{ op: TreeOp; version: number }> = [];
  /** Versions of `tree:changed` applied since the last join (and the join's version). */
  private treeBase = 0;
  private readonly treeSeen = new Set<number>();
  /** Tree notices since the last join request, re-applied over the join's tree when newer. */
  private treeSinceJoin: Array<{ change: TreeChange; version: number }> = [];
  private joined = true;
  private joinPending = false;
  private replaying = false;
  private opInFlight = false;
  private currentStatus: SessionStatus = 'connecting';
  private closed = false;
  private readonly detach: Array<() => void> = [];
  private readonly watchers = new Set<() => void>();
  private readonly gapWaitMs: number;
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
    this.gapWaitMs = options.gapWaitMs ?? 1000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.shardId = joined.shard.id;
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    this.savedVersion = joined.shard.lastSyncTimestamp;
    this.versions = new VersionTracker(joined.version);
    this.treeBase = joined.version;
    this.serverFiles = new Map(joined.files.map((f) => [f.id, f.path]));
    for (const e of early) {
      if (e.version <= joined.version) continue;
      this.versions.see(e.version);
      if (e.change !== undefined) this.applyServerTree(e.change, e.version, false);
    }
    this.files = this.viewOfTree();
    this.awareness = new Awareness(new Y.Doc());
    this.listen();
    this.updateStatus();
    this.checkGap();
  }

  get status(): SessionStatus {
    return this.currentStatus;
  }

  /** The file tree, sorted by path (including operations not yet applied by the server). */
  tree(): FileEntry[] {
    return [...this.files].map(([id, path]) => ({ id, path })).sort((a, b) => comparePaths(a.path, b.path));
  }

  /** The id of the file at `path`, if any. */
  fileId(path: string): FileId | undefined {
    for (const [id, p] of this.files) if (p === path) return id;
    return undefined;
  }

  /** Edits refused for good and not dismissed yet, one per file. */
  refused(): Refusal[] {
    return [...this.refusals.values()];
  }

  /** The user has seen (and saved elsewhere if they wished) the text of a refused edit. */
  dismissRefusal(fileId: FileId): void {
    if (this.refusals.delete(fileId)) this.updateStatus();
  }

  /** File operations waiting to be applied by the server, oldest first. */
  queuedOps(): TreeOp[] {
    return this.queue.map((q) => q.op);
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
    const existing = this.open.get(id);
    if (existing !== undefined) {
      await existing.ready;
      return this.open.get(id)?.text ?? existing.text;
    }
    const file = this.openDoc(id);
    file.ready = this.syncFile(file);
    await file.ready;
    return file.text;
  }

  /** The Y.Doc of an opened file. */
  doc(fileId: FileId): Y.Doc | undefined {
    return this.open.get(fileId)?.doc;
  }

  /** Closes a file: stops syncing it and frees its document. */
  closeFile(pathOrId: string): void {
    const id = this.resolveId(pathOrId);
    const file = id === undefined ? undefined : this.open.get(id);
    if (file === undefined) return;
    this.dropDoc(file);
    this.open.delete(file.id);
    this.updateStatus();
  }

  /**
   * Creates a file. It appears in the tree at once (with its final id, so it can be opened and
   * typed into even offline); the promise resolves once the server applied it, or rejects with a
   * plain-words TandemError when it no longer applies (also reported as `op-failed`). `content`
   * is inserted locally as an ordinary edit, so a replay never duplicates it.
   */
  async createFile(path: string, content = ''): Promise<FileEntry> {
    const canonical = this.checkPath(path);
    const fileId = randomId(16) as FileId;
    const applied = this.enqueue<AckData<'file:create'>>({
      kind: 'create',
      opId: randomId(20),
      path: canonical,
      fileId,
    });
    if (content !== '' && this.canWrite) {
      const file = this.open.get(fileId) ?? this.openDoc(fileId);
      file.text.insert(0, content);
    }
    return (await applied).file;
  }

  /** Renames or moves a file or folder (queued like createFile). */
  async rename(from: string, to: string): Promise<Array<{ id: FileId; from: string; to: string }>> {
    const op: TreeOp = { kind: 'rename', opId: randomId(20), from: this.checkPath(from), to: this.checkPath(to) };
    return (await this.enqueue<AckData<'file:rename'>>(op)).moves;
  }

  /** Deletes a file or folder (queued like createFile). */
  async delete(path: string): Promise<FileEntry[]> {
    return (
      await this.enqueue<AckData<'file:delete'>>({ kind: 'delete', opId: randomId(20), path: this.checkPath(path) })
    ).files;
  }

  /** Sets this user's presence fields (merged into the local awareness state). */
  setPresence(fields: Record<string, unknown>): void {
    const current = this.awareness.getLocalState() ?? {};
    this.awareness.setLocalState({ ...current, ...fields });
  }

  /** Resolves when every local change so far is acknowledged (in Redis). */
  async flushed(timeoutMs = 30_000): Promise<void> {
    await this.waitFor(() => this.isJoined() && !this.hasUnconfirmed(), timeoutMs, 'changes to be acknowledged');
  }

  /** Resolves when every local change is in the database (status `saved`). */
  async saved(timeoutMs = 60_000): Promise<void> {
    await this.waitFor(() => this.computeStatus() === 'saved', timeoutMs, 'changes to be saved');
  }

  /** Leaves the shard and frees every document. Queued file operations are dropped. */
  async leave(): Promise<void> {
    if (this.closed) return;
    // Tell the others we are gone before going quiet.
    removeAwarenessStates(this.awareness, [this.awareness.clientID], 'local');
    this.closed = true;
    clearTimeout(this.rejoinTimer);
    clearTimeout(this.gapTimer);
    clearTimeout(this.pumpTimer);
    for (const off of this.detach) off();
    for (const file of this.open.values()) this.dropDoc(file);
    this.open.clear();
    for (const q of this.queue.splice(0))
      q.reject(new TandemError({ code: 'UNAVAILABLE', message: 'left the project before the change was applied' }));
    this.awareness.destroy();
    if (this.socket.connected) {
      await request(this.socket, 'shard:leave', { shardId: this.shardId }, this.ackTimeoutMs).catch(() => undefined);
    }
  }

  // ---- rejoin ---------------------------------------------------------------------------------

  private rejoining: Promise<void> | undefined;
  private rejoinAgain = false;
  private rejoinDelayMs = 500;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @internal called by the client after a reconnect, on `shard:resync`, and by the session when
   * the server no longer counts it as joined or a notice was missed: join again, replay file
   * operations, and resync every open file. One at a time (a request during one runs once more
   * after it). A failed rejoin is retried with backoff while connected.
   */
  rejoin(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.rejoining !== undefined) {
      this.rejoinAgain = true;
      return this.rejoining;
    }
    const run = async () => {
      do {
        this.rejoinAgain = false;
        await this.joinAgain();
      } while (this.rejoinAgain && !this.closed);
    };
    const rejoining = run()
      .then(
        () => {
          this.rejoinDelayMs = 500;
        },
        (error: unknown) => {
          this.scheduleRejoin();
          throw error;
        },
      )
      .finally(() => {
        this.rejoining = undefined;
        this.updateStatus();
        this.checkGap();
      });
    this.rejoining = rejoining;
    return rejoining;
  }

  private async joinAgain(): Promise<void> {
    if (this.closed) return;
    this.joined = false;
    this.treeSinceJoin = [];
    this.updateStatus();
    this.joinPending = true;
    const joined = unwrap(
      await this.request('shard:join', { shardId: this.shardId }).finally(() => {
        this.joinPending = false;
      }),
    );
    if (this.closed) return;
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    if (joined.version < this.versions.upTo) {
      // The shard clock restarted (Redis lost the shard and it was reloaded from the database):
      // versions from before are meaningless now. What the reload lacks, the operation replay and
      // the handshakes below send again and get new versions for.
      this.requiredVersion = joined.version;
      this.savedVersion = joined.shard.lastSyncTimestamp;
    } else {
      this.savedVersion = Math.max(this.savedVersion, joined.shard.lastSyncTimestamp);
    }
    this.versions.reset(joined.version);
    this.ackedOps = this.ackedOps.filter((e) => e.version > joined.shard.lastSyncTimestamp);
    this.serverFiles = new Map(joined.files.map((f) => [f.id, f.path]));
    this.treeBase = joined.version;
    this.treeSeen.clear();
    for (const e of this.treeSinceJoin)
      if (e.version > joined.version) this.applyServerTree(e.change, e.version, false);
    this.treeSinceJoin = [];
    this.joined = true;
    this.refreshTree(null);
    await this.replayAckedOps();
    await this.pump();
    const files = [...this.open.values()];
    const results = await Promise.allSettled(files.map((file) => this.syncFile(file)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      // Someone deleted the file meanwhile; anything else fails the rejoin, which is retried.
      if (r.reason instanceof TandemError && r.reason.code === 'FILE_NOT_FOUND') this.fileGone(files[i]!, r.reason);
      else throw r.reason;
    });
    this.sendFullPresence();
  }

  /**
   * Sends again every acknowledged file operation the database may not hold yet. With the same
   * opIds the server answers with the first outcome; if Redis lost the shard, they apply again
   * (created files keep their ids, so the handshakes restore their text).
   */
  private async replayAckedOps(): Promise<void> {
    this.replaying = true;
    try {
      for (const entry of [...this.ackedOps]) {
        const ack = await this.sendOp(entry.op);
        if (ack.ok) {
          entry.version = ack.data.version;
          this.noteVersion(ack.data.version);
          this.requiredVersion = Math.max(this.requiredVersion, ack.data.version);
        } else if (isRetryableError(ack.error.code)) {
          throw new TandemError(ack.error);
        } else {
          // The tree moved on since (someone renamed or deleted those files): what the server
          // has now stands; this operation was already applied once and reported as done.
          this.ackedOps = this.ackedOps.filter((e) => e !== entry);
        }
      }
    } finally {
      this.replaying = false;
    }
    this.refreshTree(null);
  }

  private scheduleRejoin(): void {
    if (this.rejoinTimer !== undefined || this.closed) return;
    // Capped like socket.io's reconnection delay (a join is cheap), with jitter so the clients
    // of a shard do not come back in step.
    const delay = this.rejoinDelayMs * (0.75 + Math.random() / 2);
    this.rejoinDelayMs = Math.min(this.rejoinDelayMs * 2, 5_000);
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      // Disconnected meanwhile: the reconnect rejoins.
      if (this.closed || !this.socket.connected) return;
      this.rejoin().catch((error: unknown) => this.emit('error', errorBody(error)));
    }, delay);
  }

  /** @internal */
  markOffline(): void {
    if (this.closed) return;
    this.joined = false;
    this.updateStatus();
  }

  // ---- notices --------------------------------------------------------------------------------

  private listen(): void {
    const onEdited = (e: { shardId: ShardId; fileId: FileId; update: Uint8Array; version: number }) => {
      if (e.shardId !== this.shardId) return;
      const file = this.open.get(e.fileId);
      if (file !== undefined) {
        Y.applyUpdate(file.doc, toU8(e.update), REMOTE);
        this.checkPending(file);
      }
      this.noteVersion(e.version);
    };
    const onTree = (e: { shardId: ShardId; change: TreeChange; version: number }) => {
      if (e.shardId !== this.shardId) return;
      // While a rejoin is in flight, the join's tree may be older than this notice.
      if (!this.joined) this.treeSinceJoin.push({ change: e.change, version: e.version });
      this.applyServerTree(e.change, e.version, true);
      this.noteVersion(e.version);
    };
    const onPresence = (e: { shardId: ShardId; update: Uint8Array }) => {
      if (e.shardId === this.shardId) applyAwarenessUpdate(this.awareness, toU8(e.update), REMOTE);
    };
    const onRequested = (e: { shardId: ShardId; version?: number }) => {
      if (e.shardId !== this.shardId) return;
      this.sendFullPresence();
      if (typeof e.version === 'number') {
        this.versions.expect(e.version);
        this.checkGap();
      }
    };
    const onResync = (e: { shardId: ShardId }) => {
      // A resync while our join is pending belongs to the load that join caused: its answer is newer.
      if (e.shardId !== this.shardId || this.closed || this.joinPending) return;
      // The server reloaded the shard and may lack our recent changes: rejoin (fresh tree,
      // replayed file operations) and run the handshake again for every open file.
      this.rejoin().catch((error: unknown) => this.emit('error', errorBody(error)));
    };
    const onSaved = (e: { shardId: ShardId; version: number }) => {
      if (e.shardId !== this.shardId) return;
      this.savedVersion = Math.max(this.savedVersion, e.version);
      this.ackedOps = this.ackedOps.filter((entry) => entry.version > e.version);
      this.emit('saved', this.savedVersion);
      this.updateStatus();
    };
    const onError = (e: { shardId: ShardId | null; error: ErrorBody }) => {
      if (e.shardId === null || e.shardId === this.shardId) this.emit('error', e.error);
    };
    this.socket.on('file:edited', onEdited);
    this.socket.on('tree:changed', onTree);
    this.socket.on('presence:updated', onPresence);
    this.socket.on('presence:requested', onRequested);
    this.socket.on('shard:saved', onSaved);
    this.socket.on('shard:resync', onResync);
    this.socket.on('shard:error', onError);
    const onAwareness = (
      { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ) => {
      if (origin === REMOTE) return;
      const changed = [...added, ...updated, ...removed];
      this.sendPresence(encodeAwarenessUpdate(this.awareness, changed));
    };
    this.awareness.on('update', onAwareness);
    this.detach.push(
      () => this.socket.off('file:edited', onEdited),
      () => this.socket.off('tree:changed', onTree),
      () => this.socket.off('presence:updated', onPresence),
      () => this.socket.off('presence:requested', onRequested),
      () => this.socket.off('shard:saved', onSaved),
      () => this.socket.off('shard:resync', onResync),
      () => this.socket.off('shard:error', onError),
      () => this.awareness.off('update', onAwareness),
    );
  }

  // ---- gaps -----------------------------------------------------------------------------------

  private noteVersion(version: number): void {
    this.versions.see(version);
    this.checkGap();
  }

  /**
   * A gap still open after gapWaitMs means a notice was lost (an instance died between storing a
   * change and broadcasting it): rejoin, which re-reads the tree and runs every handshake. While
   * own changes are unacknowledged the wait goes on: their acks carry versions.
   */
  private checkGap(): void {
    if (this.closed || !this.versions.hasGap()) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer !== undefined) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.closed || !this.versions.hasGap() || !this.socket.connected) return;
      if (this.unacked > 0 || this.opInFlight || this.rejoining !== undefined) {
        this.checkGap();
        return;
      }
      this.rejoin().catch((error: unknown) => this.emit('error', errorBody(error)));
    }, this.gapWaitMs);
  }

  /**
   * A remote update whose dependencies are missing stays pending in the Y.Doc: if it still is
   * after gapWaitMs, run the handshake for the file (it fetches what is missing). A pending state
   * the server has too (it was there after the last handshake) is not worth another.
   */
  private checkPending(file: OpenFile): void {
    const key = pendingKey(file.doc);
    if (key === null || key === file.knownPending || file.pendingTimer !== undefined) return;
    file.pendingTimer = setTimeout(() => {
      file.pendingTimer = undefined;
      if (this.open.get(file.id) !== file) return;
      const now = pendingKey(file.doc);
      if (now !== null && now !== file.knownPending) this.scheduleFileSync(file, 0);
    }, this.gapWaitMs);
  }

  // ---- documents ------------------------------------------------------------------------------

  private openDoc(id: FileId): OpenFile {
    const doc = new Y.Doc();
    const text = doc.getText(TEXT_NAME);
    const file: OpenFile = {
      id,
      path: this.files.get(id) ?? '',
      doc,
      text,
      ready: Promise.resolve(),
      unsubscribe: () => undefined,
      unconfirmed: 0,
      knownPending: null,
      pendingTimer: undefined,
      syncTimer: undefined,
      syncDelayMs: 250,
    };
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.sendEdit(file, update);
    };
    doc.on('update', onUpdate);
    file.unsubscribe = () => doc.off('update', onUpdate);
    this.open.set(id, file);
    return file;
  }

  private dropDoc(file: OpenFile): void {
    clearTimeout(file.pendingTimer);
    clearTimeout(file.syncTimer);
    file.unsubscribe();
    file.doc.destroy();
  }

  /**
   * The Yjs sync handshake for one file: send our state vector, apply what we lack, then send
   * what the server lacks (edits made offline, whose ack was lost, or lost by the server). Edits
   * whose ack was lost are covered by the version the server read the file at.
   */
  private async syncFile(file: OpenFile): Promise<void> {
    if (this.isCreateQueued(file.id)) return; // the server does not know it yet: synced once created
    const unconfirmed = file.unconfirmed;
    const data = unwrap(
      await this.request('file:sync', {
        shardId: this.shardId,
        fileId: file.id,
        stateVector: Y.encodeStateVector(file.doc),
      }),
    );
    if (this.open.get(file.id) !== file) return;
    Y.applyUpdate(file.doc, toU8(data.update), REMOTE);
    file.knownPending = pendingKey(file.doc);
    const missing = Y.encodeStateAsUpdate(file.doc, toU8(data.stateVector));
    if (unconfirmed > 0) {
      file.unconfirmed -= unconfirmed;
      this.requiredVersion = Math.max(this.requiredVersion, data.version);
    }
    if (hasContent(missing)) this.sendEdit(file, missing);
    this.updateStatus();
  }

  /** Runs the handshake for one file after `delayMs` (retried with backoff while it fails). */
  private scheduleFileSync(file: OpenFile, delayMs: number): void {
    if (file.syncTimer !== undefined || this.closed) return;
    file.syncTimer = setTimeout(() => {
      file.syncTimer = undefined;
      if (this.closed || this.open.get(file.id) !== file) return;
      // Not joined: the rejoin runs every handshake.
      if (!this.isJoined()) return;
      this.syncFile(file).then(
        () => {
          file.syncDelayMs = 250;
        },
        (error: unknown) => {
          if (error instanceof TandemError && error.code === 'NOT_JOINED') {
            this.joined = false;
            this.scheduleRejoin();
          } else if (error instanceof TandemError && error.code === 'FILE_NOT_FOUND') {
            this.fileGone(file, error);
          } else {
            file.syncDelayMs = Math.min(file.syncDelayMs * 2, 30_000);
            this.scheduleFileSync(file, file.syncDelayMs);
          }
        },
      );
    }, delayMs);
  }

  private sendEdit(file: OpenFile, update: Uint8Array): void {
    if (!this.canWrite || this.closed) return;
    if (!this.isJoined() || this.isCreateQueued(file.id)) {
      // Kept in the document; the handshake after the (re)join or the create sends it.
      file.unconfirmed++;
      this.updateStatus();
      return;
    }
    this.unacked++;
    this.updateStatus();
    this.request('file:edit', { shardId: this.shardId, fileId: file.id, update })
      .then(
        (ack: Ack<{ version: number }>) => {
          if (ack.ok) {
            this.requiredVersion = Math.max(this.requiredVersion, ack.data.version);
            this.versions.see(ack.data.version);
          } else {
            this.onEditRefused(file, ack.error);
          }
        },
        () => {
          // Timed out or cut by a disconnect: not acknowledged. The server may or may not have
          // it; the handshake sends what it lacks (the rejoin's, if disconnected).
          if (this.open.get(file.id) !== file) return;
          file.unconfirmed++;
          this.scheduleFileSync(file, 0);
        },
      )
      .finally(() => {
        this.unacked = Math.max(0, this.unacked - 1);
        this.updateStatus();
        this.checkGap();
      });
  }

  private onEditRefused(file: OpenFile, error: ErrorBody): void {
    if (this.open.get(file.id) !== file) return; // refused before, already replaced
    if (error.code === 'NOT_JOINED') {
      // The server forgot this socket's join (e.g. a rejoin failed): join again, which also
      // runs the handshake that sends this edit.
      file.unconfirmed++;
      this.joined = false;
      this.scheduleRejoin();
    } else if (isRetryableError(error.code)) {
      file.unconfirmed++;
      file.syncDelayMs = Math.min(file.syncDelayMs * 2, 30_000);
      this.scheduleFileSync(file, Math.max(file.syncDelayMs, 500));
    } else {
      this.refuse(file, error);
    }
  }

  /**
   * An edit refused for good: keep the user's text for them (the `refused` event), then bring
   * the file back to the server's state in a fresh document (a new client id, so later edits do
   * not depend on the refused one and are accepted again).
   */
  private refuse(file: OpenFile, error: ErrorBody): void {
    if (error.code === 'FILE_NOT_FOUND') {
      file.unconfirmed++;
      this.fileGone(file, error);
      return;
    }
    const refusal: Refusal = {
      fileId: file.id,
      path: this.files.get(file.id) ?? file.path,
      error,
      localText: file.text.toString(),
    };
    this.refusals.set(file.id, refusal);
    this.dropDoc(file);
    this.open.delete(file.id);
    const fresh = this.openDoc(file.id);
    this.updateStatus();
    this.emit('refused', refusal);
    // Also as a plain error, for listeners that only log errors (the same object, so a UI that
    // shows refusals can skip it).
    this.emit('error', error);
    // Not joined: the rejoin runs the handshake of every open file, this one included.
    const synced = this.isJoined() ? this.syncFile(fresh) : Promise.resolve();
    fresh.ready = synced.catch((syncError: unknown) => {
      if (syncError instanceof TandemError && syncError.code === 'FILE_NOT_FOUND') return;
      this.scheduleFileSync(fresh, 500);
    });
    void fresh.ready.then(() => {
      if (this.open.get(fresh.id) === fresh) this.emit('reset', { fileId: fresh.id, text: fresh.text });
    });
  }

  /**
   * The server no longer has an open file (someone deleted it). Local edits it never confirmed
   * are reported like a refusal, so the user gets their text back; the document is closed.
   */
  private fileGone(file: OpenFile, error: ErrorBody | TandemError): void {
    if (this.open.get(file.id) !== file) return;
    const body: ErrorBody = { code: 'FILE_NOT_FOUND', message: error.message };
    if (file.unconfirmed > 0) {
      const refusal: Refusal = {
        fileId: file.id,
        path: this.files.get(file.id) ?? file.path,
        error: body,
        localText: file.text.toString(),
      };
      this.refusals.set(file.id, refusal);
      this.emit('refused', refusal);
    }
    this.dropDoc(file);
    this.open.delete(file.id);
    this.updateStatus();
    this.emit('error', body);
  }

  // ---- file operations ------------------------------------------------------------------------

  private checkPath(path: string): string {
    const result = normalizePath(path);
    if (!result.ok)
      throw new TandemError({
        code: 'PATH_INVALID',
        message: `"${path}" is not a valid file name: ${describePathProblem(result.problem)}`,
        details: { problem: result.problem },
      });
    return result.path;
  }

  private enqueue<T>(op: TreeOp): Promise<T> {
    if (!this.canWrite)
      return Promise.reject(new TandemError({ code: 'READ_ONLY', message: 'you can only view this project' }));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        op,
        queuedOffline: !this.socket.connected,
        resolve: resolve as (data: unknown) => void,
        reject,
      });
      this.emit('queue', this.queue.length);
      this.refreshTree(null);
      this.updateStatus();
      void this.pump();
    });
  }

  private pumping: Promise<void> | undefined;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private pumpDelayMs = 250;

  /** Sends queued operations in order, one at a time, while joined. */
  private pump(): Promise<void> {
    this.pumping ??= this.runQueue().finally(() => {
      this.pumping = undefined;
      this.updateStatus();
    });
    return this.pumping;
  }

  private async runQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.closed && this.isJoined() && !this.replaying) {
      const item = this.queue[0]!;
      this.opInFlight = true;
      let ack: Ack<{ version: number }> | undefined;
      try {
        ack = await this.sendOp(item.op);
      } catch {
        // Ack lost (timeout or disconnect): the same opId goes again; the server applies it once.
        ack = undefined;
      } finally {
        this.opInFlight = false;
      }
      if (ack === undefined || (!ack.ok && isRetryableError(ack.error.code))) {
        if (ack !== undefined && ack.error.code === 'NOT_JOINED') {
          this.joined = false;
          this.scheduleRejoin();
        } else if (this.socket.connected) {
          this.retryQueueLater();
        }
        return;
      }
      this.pumpDelayMs = 250;
      this.queue.shift();
      this.emit('queue', this.queue.length);
      if (ack.ok) this.opApplied(item, ack.data);
      else this.opFailed(item, ack.error);
    }
  }

  private retryQueueLater(): void {
    if (this.pumpTimer !== undefined) return;
    const delay = this.pumpDelayMs;
    this.pumpDelayMs = Math.min(this.pumpDelayMs * 2, 5_000);
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      void this.pump();
    }, delay);
  }

  private sendOp(op: TreeOp): Promise<Ack<{ version: number }>> {
    switch (op.kind) {
      case 'create':
        // Created empty: its text travels as an edit of the file's document, so a replay of the
        // create never inserts it twice.
        return this.request('file:create', {
          shardId: this.shardId,
          path: op.path,
          content: '',
          fileId: op.fileId,
          opId: op.opId,
        });
      case 'rename':
        return this.request('file:rename', { shardId: this.shardId, from: op.from, to: op.to, opId: op.opId });
      case 'delete':
        return this.request('file:delete', { shardId: this.shardId, path: op.path, opId: op.opId });
    }
  }

  private opApplied(item: QueuedOp, data: { version: number } & Partial<AckData<'file:create'>>): void {
    let op = item.op;
    if (op.kind === 'create' && data.file !== undefined) {
      if (data.file.id !== op.fileId) this.moveDoc(op.fileId, data.file.id);
      op = { ...op, fileId: data.file.id, path: data.file.path };
    }
    this.ackedOps.push({ op, version: data.version });
    this.requiredVersion = Math.max(this.requiredVersion, data.version);
    this.noteVersion(data.version);
    this.refreshTree(null);
    item.resolve(data);
    if (op.kind === 'create') {
      const file = this.open.get(op.fileId);
      if (file !== undefined) this.scheduleFileSync(file, 0);
    }
  }

  private opFailed(item: QueuedOp, error: ErrorBody): void {
    const message = describeTreeOpFailure(item.op, error, item.queuedOffline);
    const failure: TreeOpFailure = { op: item.op, message, error };
    if (item.op.kind === 'create') {
      const file = this.open.get(item.op.fileId);
      if (file !== undefined) {
        failure.localText = file.text.toString();
        this.dropDoc(file);
        this.open.delete(file.id);
      }
    }
    this.refreshTree(null);
    this.emit('op-failed', failure);
    item.reject(new TandemError({ code: error.code, message, ...(error.details ? { details: error.details } : {}) }));
  }

  /** A server that chose its own id for a created file: the local document follows it. */
  private moveDoc(from: FileId, to: FileId): void {
    const file = this.open.get(from);
    if (file === undefined) return;
    this.open.delete(from);
    file.id = to;
    this.open.set(to, file);
  }

  private isCreateQueued(id: FileId): boolean {
    return this.queue.some((q) => q.op.kind === 'create' && q.op.fileId === id);
  }

  // ---- tree -----------------------------------------------------------------------------------

  private applyServerTree(change: TreeChange, version: number, emit: boolean): void {
    if (version <= this.treeBase || this.treeSeen.has(version)) return;
    this.treeSeen.add(version);
    switch (change.kind) {
      case 'created':
        this.serverFiles.set(change.file.id, change.file.path);
        break;
      case 'renamed':
        for (const m of change.moves) this.serverFiles.set(m.id, m.to);
        break;
      case 'deleted':
        for (const f of change.files) {
          this.serverFiles.delete(f.id);
          this.closeFile(f.id);
        }
        break;
    }
    if (emit) this.refreshTree(change);
  }

  /** The server's tree, then acknowledged operations whose notice has not arrived, then queued ones. */
  private viewOfTree(): Map<FileId, string> {
    const view = new Map(this.serverFiles);
    for (const e of this.ackedOps)
      if (e.version > this.treeBase && !this.treeSeen.has(e.version)) applyTreeOp(view, e.op);
    for (const q of this.queue) applyTreeOp(view, q.op);
    return view;
  }

  private refreshTree(change: TreeChange | null): void {
    if (this.closed) return;
    this.files = this.viewOfTree();
    for (const file of this.open.values()) file.path = this.files.get(file.id) ?? file.path;
    this.emit('tree', this.tree(), change);
  }

  private resolveId(pathOrId: string): FileId | undefined {
    return this.files.has(pathOrId as FileId) || this.open.has(pathOrId as FileId)
      ? (pathOrId as FileId)
      : this.fileId(pathOrId);
  }

  // ---- presence -------------------------------------------------------------------------------

  private sendPresence(update: Uint8Array): void {
    if (this.closed || !this.socket.connected) return;
    this.socket.emit('presence:update', { shardId: this.shardId, update });
  }

  private sendFullPresence(): void {
    if (this.awareness.getLocalState() === null) return;
    this.sendPresence(encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]));
  }

  // ---- status ---------------------------------------------------------------------------------

  private isJoined(): boolean {
    return this.joined && this.socket.connected;
  }

  private hasUnconfirmed(): boolean {
    if (this.unacked > 0 || this.queue.length > 0 || this.replaying) return true;
    for (const file of this.open.values()) if (file.unconfirmed > 0) return true;
    return false;
  }

  private computeStatus(): SessionStatus {
    if (!this.socket.connected) return 'offline';
    if (!this.joined) return 'connecting';
    if (this.hasUnconfirmed()) return 'syncing';
    if (this.refusals.size > 0) return 'live';
    return this.savedVersion >= this.requiredVersion ? 'saved' : 'live';
  }

  private updateStatus(): void {
    const status = this.closed ? this.currentStatus : this.computeStatus();
    if (status !== this.currentStatus) {
      this.currentStatus = status;
      this.emit('status', status);
    }
    for (const check of [...this.watchers]) check();
  }

  private request<E extends keyof ClientToServerEvents>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ): Promise<Ack<AckData<E>>> {
    // socket.io would buffer it and send it on reconnect, before the rejoin's shard:join.
    if (!this.socket.connected)
      return Promise.reject(new TandemError({ code: 'UNAVAILABLE', message: 'not connected to the server' }));
    return request(this.socket, event, payload, this.ackTimeoutMs);
  }

  private waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new TandemError({ code: 'UNAVAILABLE', message: `timed out waiting for ${what}` }));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }
}

/** socket.io delivers binary as Buffer (Node) or ArrayBuffer (browser); Yjs wants Uint8Array. */
export function toU8(value: Uint8Array | ArrayBuffer): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}

function errorBody(error: unknown): ErrorBody {
  if (error instanceof TandemError) return { code: error.code as ErrorBody['code'], message: error.message };
  return { code: 'UNAVAILABLE', message: error instanceof Error ? error.message : String(error) };
}

/** An empty Yjs update encodes as [0, 0]; anything longer carries content. */
function hasContent(update: Uint8Array): boolean {
  return update.byteLength > 2;
}

/** What a document still waits for (null when nothing is pending). */
function pendingKey(doc: Y.Doc): string | null {
  const { pendingStructs, pendingDs } = doc.store;
  if (pendingStructs === null && pendingDs === null) return null;
  return `${JSON.stringify([...(pendingStructs?.missing ?? new Map<number, number>())])}/${pendingDs?.byteLength ?? 0}`;
}
