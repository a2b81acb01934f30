import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import type { Ack, ErrorBody, FileEntry, FileId, ShardId, ShardSummary, TreeChange } from '@tandem/protocol';
import { request, type TandemSocket } from './socket-types.js';
import { TandemError, unwrap } from './tandem-error.js';
import { Emitter } from './emitter.js';

/** The name of the Y.Text holding a file's content in its Y.Doc (shared with the server). */
export const TEXT_NAME = 'content';

/** Refusals worth retrying later (the edit stays in the local document meanwhile). */
const RETRYABLE = new Set<string>(['RATE_LIMITED', 'SHARD_UNAVAILABLE', 'UNAVAILABLE', 'INTERNAL', 'NOT_JOINED']);

/** Origin of updates that came from the server; they are never sent back. */
const REMOTE = Symbol('tandem-remote');

/**
 * What an editor shows about its connection to a shard:
 * - `connecting`: (re)joining after a connect or reconnect
 * - `syncing`: joined, some local edits not yet acknowledged (not yet in Redis)
 * - `live`: joined, every local edit acknowledged (in Redis), some not yet in the database
 * - `saved`: every local edit is in the database
 * - `offline`: disconnected; local edits are kept and merged on reconnect
 */
export type SessionStatus = 'connecting' | 'syncing' | 'live' | 'saved' | 'offline';

export type SessionEvents = {
  status: [SessionStatus];
  /** The file tree changed (from anyone, including this client). */
  tree: [FileEntry[], TreeChange | null];
  /** The database now holds the shard up to this version. */
  saved: [number];
  /** A refused edit or a server notice. */
  error: [ErrorBody];
};

type OpenFile = { id: FileId; doc: Y.Doc; text: Y.Text; ready: Promise<void>; unsubscribe: () => void };

/** Local user shown to others. */
export type PresenceUser = { id: string; name: string; color: string; colorLight?: string };

/**
 * One joined shard: its file tree, a Y.Doc per opened file kept in sync with the server,
 * presence (a y-protocols Awareness), and status. Created by TandemClient.join().
 */
export class ShardSession extends Emitter<SessionEvents> {
  readonly shardId: ShardId;
  shard: ShardSummary;
  canWrite: boolean;
  /** Presence of everyone in the shard (one Awareness per shard; its doc is not a file). */
  readonly awareness: Awareness;
  private files = new Map<FileId, string>();
  private readonly open = new Map<FileId, OpenFile>();
  private unacked = 0;
  private lastAckedVersion = 0;
  private savedVersion = 0;
  private currentStatus: SessionStatus = 'connecting';
  private closed = false;
  private readonly detach: Array<() => void> = [];

  /** @internal use TandemClient.join() */
  constructor(
    private readonly socket: TandemSocket,
    joined: { shard: ShardSummary; files: FileEntry[]; canWrite: boolean; version: number },
    /** Tree changes that arrived while the join was in flight; those newer than the join are applied. */
    early: Array<{ change: TreeChange; version: number }> = [],
  ) {
    super();
    this.shardId = joined.shard.id;
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    this.savedVersion = joined.shard.lastSyncTimestamp;
    for (const f of joined.files) this.files.set(f.id, f.path);
    for (const e of early) if (e.version > joined.version) this.applyTree(e.change);
    this.awareness = new Awareness(new Y.Doc());
    this.listen();
    this.setStatus(this.computeStatus());
  }

  get status(): SessionStatus {
    return this.currentStatus;
  }

  /** The file tree, sorted by path. */
  tree(): FileEntry[] {
    return [...this.files]
      .map(([id, path]) => ({ id, path }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The id of the file at `path`, if any. */
  fileId(path: string): FileId | undefined {
    for (const [id, p] of this.files) if (p === path) return id;
    return undefined;
  }

  /**
   * Opens a file: returns its Y.Text once the initial sync finished. Local changes to the text
   * are sent to the server; remote ones are applied. Open the same file twice → same Y.Text.
   * @example
   * const text = await session.openFile('src/App.tsx')
   * text.insert(0, '// hello\n')
   */
  async openFile(pathOrId: string): Promise<Y.Text> {
    const id = this.files.has(pathOrId as FileId) ? (pathOrId as FileId) : this.fileId(pathOrId);
    if (id === undefined)
      throw new TandemError({ code: 'FILE_NOT_FOUND', message: `no file "${pathOrId}" in the shard` });
    const existing = this.open.get(id);
    if (existing !== undefined) {
      await existing.ready;
      return existing.text;
    }
    const doc = new Y.Doc();
    const text = doc.getText(TEXT_NAME);
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.sendEdit(id, update);
    };
    doc.on('update', onUpdate);
    const file: OpenFile = {
      id,
      doc,
      text,
      ready: Promise.resolve(),
      unsubscribe: () => doc.off('update', onUpdate),
    };
    this.open.set(id, file);
    file.ready = this.syncFile(file);
    await file.ready;
    return text;
  }

  /** The Y.Doc of an opened file. */
  doc(fileId: FileId): Y.Doc | undefined {
    return this.open.get(fileId)?.doc;
  }

  /** Closes a file: stops syncing it and frees its document. */
  closeFile(pathOrId: string): void {
    const id = this.files.has(pathOrId as FileId) ? (pathOrId as FileId) : this.fileId(pathOrId);
    const file = id === undefined ? undefined : this.open.get(id);
    if (file === undefined || id === undefined) return;
    file.unsubscribe();
    file.doc.destroy();
    this.open.delete(id);
  }

  async createFile(path: string, content = ''): Promise<FileEntry> {
    const data = unwrap(await request(this.socket, 'file:create', { shardId: this.shardId, path, content }));
    this.applyTree({ kind: 'created', file: data.file });
    return data.file;
  }

  async rename(from: string, to: string): Promise<Array<{ id: FileId; from: string; to: string }>> {
    const data = unwrap(await request(this.socket, 'file:rename', { shardId: this.shardId, from, to }));
    this.applyTree({ kind: 'renamed', moves: data.moves });
    return data.moves;
  }

  async delete(path: string): Promise<FileEntry[]> {
    const data = unwrap(await request(this.socket, 'file:delete', { shardId: this.shardId, path }));
    this.applyTree({ kind: 'deleted', files: data.files });
    return data.files;
  }

  /** Sets this user's presence fields (merged into the local awareness state). */
  setPresence(fields: Record<string, unknown>): void {
    const current = this.awareness.getLocalState() ?? {};
    this.awareness.setLocalState({ ...current, ...fields });
  }

  /** Resolves when every local edit so far is acknowledged (in Redis). */
  async flushed(timeoutMs = 30_000): Promise<void> {
    if (this.unacked === 0) return;
    await this.waitFor(() => this.unacked === 0, timeoutMs, 'edits to be acknowledged');
  }

  /** Resolves when every acknowledged local edit is in the database. */
  async saved(timeoutMs = 60_000): Promise<void> {
    await this.flushed(timeoutMs);
    await this.waitFor(() => this.savedVersion >= this.lastAckedVersion, timeoutMs, 'edits to be saved');
  }

  /** Leaves the shard and frees every document. */
  async leave(): Promise<void> {
    if (this.closed) return;
    // Tell the others we are gone before going quiet.
    removeAwarenessStates(this.awareness, [this.awareness.clientID], 'local');
    this.closed = true;
    clearTimeout(this.rejoinTimer);
    clearTimeout(this.resyncTimer);
    for (const off of this.detach) off();
    for (const file of this.open.values()) {
      file.unsubscribe();
      file.doc.destroy();
    }
    this.open.clear();
    this.awareness.destroy();
    if (this.socket.connected) {
      await request(this.socket, 'shard:leave', { shardId: this.shardId }).catch(() => undefined);
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private rejoining: Promise<void> | undefined;
  private rejoinAgain = false;
  private rejoinDelayMs = 500;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @internal called by the client after a reconnect, on `shard:resync`, and by the session when
   * the server no longer counts it as joined: join again and resync every open file. One at a
   * time (a request during one runs once more after it). A failed rejoin (e.g. the shard cannot be
   * loaded while the database is down) is retried with backoff while connected: until it
   * succeeds, nothing this session types reaches the server.
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
      });
    this.rejoining = rejoining;
    return rejoining;
  }

  private async joinAgain(): Promise<void> {
    if (this.closed) return;
    this.setStatus('connecting');
    const joined = unwrap(await request(this.socket, 'shard:join', { shardId: this.shardId }));
    this.shard = joined.shard;
    this.canWrite = joined.canWrite;
    if (joined.version < this.lastAckedVersion) {
      // The shard clock restarted (Redis lost the shard and it was reloaded from the database):
      // versions from before are meaningless now. What the reload lacks, the handshake below
      // sends again and gets new acks for.
      this.lastAckedVersion = joined.version;
      this.savedVersion = joined.shard.lastSyncTimestamp;
    } else {
      this.savedVersion = Math.max(this.savedVersion, joined.shard.lastSyncTimestamp);
    }
    this.files = new Map(joined.files.map((f) => [f.id, f.path]));
    this.emit('tree', this.tree(), null);
    const results = await Promise.allSettled([...this.open.values()].map((file) => this.syncFile(file)));
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      // A file the server no longer has stays open locally (its text is kept); anything else
      // fails the rejoin, which is then retried.
      if (r.reason instanceof TandemError && r.reason.code === 'FILE_NOT_FOUND')
        this.emit('error', { code: 'FILE_NOT_FOUND', message: r.reason.message });
      else throw r.reason;
    }
    this.sendFullPresence();
    this.setStatus(this.computeStatus());
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
    if (!this.closed) this.setStatus('offline');
  }

  private listen(): void {
    const onEdited = (e: { shardId: ShardId; fileId: FileId; update: Uint8Array; version: number }) => {
      if (e.shardId !== this.shardId) return;
      const file = this.open.get(e.fileId);
      if (file !== undefined) Y.applyUpdate(file.doc, toU8(e.update), REMOTE);
    };
    const onTree = (e: { shardId: ShardId; change: TreeChange }) => {
      if (e.shardId === this.shardId) this.applyTree(e.change);
    };
    const onPresence = (e: { shardId: ShardId; update: Uint8Array }) => {
      if (e.shardId === this.shardId) applyAwarenessUpdate(this.awareness, toU8(e.update), REMOTE);
    };
    const onRequested = (e: { shardId: ShardId }) => {
      if (e.shardId === this.shardId) this.sendFullPresence();
    };
    const onResync = (e: { shardId: ShardId }) => {
      if (e.shardId !== this.shardId || this.closed) return;
      // The server reloaded the shard and may lack our recent edits: rejoin (fresh tree) and
      // run the handshake again for every open file.
      this.rejoin().catch((error: unknown) => this.emit('error', { code: 'UNAVAILABLE', message: String(error) }));
    };
    const onSaved = (e: { shardId: ShardId; version: number }) => {
      if (e.shardId !== this.shardId) return;
      this.savedVersion = Math.max(this.savedVersion, e.version);
      this.emit('saved', this.savedVersion);
      this.setStatus(this.computeStatus());
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

  /**
   * The Yjs sync handshake for one file: send our state vector, apply what we lack, then send
   * what the server lacks (edits made offline, or lost by the server).
   */
  private async syncFile(file: OpenFile): Promise<void> {
    const ack = await request(this.socket, 'file:sync', {
      shardId: this.shardId,
      fileId: file.id,
      stateVector: Y.encodeStateVector(file.doc),
    });
    const data = unwrap(ack);
    Y.applyUpdate(file.doc, toU8(data.update), REMOTE);
    const missing = Y.encodeStateAsUpdate(file.doc, toU8(data.stateVector));
    if (hasContent(missing)) this.sendEdit(file.id, missing);
  }

  private sendEdit(fileId: FileId, update: Uint8Array): void {
    if (!this.canWrite || this.closed) return;
    if (!this.socket.connected) {
      // Kept in the document; the handshake after reconnect sends it.
      this.setStatus('offline');
      return;
    }
    this.unacked++;
    this.setStatus(this.computeStatus());
    request(this.socket, 'file:edit', { shardId: this.shardId, fileId, update })
      .then(
        (ack: Ack<{ version: number }>) => {
          if (ack.ok) {
            this.lastAckedVersion = Math.max(this.lastAckedVersion, ack.data.version);
          } else {
            this.emit('error', ack.error);
            // The edit is still in our document: for a passing refusal, a resync sends it again
            // later. Permanent refusals (too large, read-only, malformed) are not retried.
            const file = this.open.get(fileId);
            // The server forgot this socket's join (e.g. a rejoin failed): join again, which
            // also resyncs every open file.
            if (ack.error.code === 'NOT_JOINED') this.scheduleRejoin();
            else if (file !== undefined && RETRYABLE.has(ack.error.code)) this.scheduleResync(file);
          }
        },
        () => undefined,
      )
      .finally(() => {
        this.unacked = Math.max(0, this.unacked - 1);
        this.setStatus(this.computeStatus());
      });
  }

  private resyncDelayMs = 500;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;

  private scheduleResync(file: OpenFile): void {
    if (this.resyncTimer !== undefined || this.closed) return;
    const delay = this.resyncDelayMs;
    this.resyncDelayMs = Math.min(this.resyncDelayMs * 2, 30_000);
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      if (this.closed || this.open.get(file.id) !== file) return;
      this.syncFile(file).then(
        () => {
          this.resyncDelayMs = 500;
        },
        (error: unknown) => {
          if (error instanceof TandemError && error.code === 'NOT_JOINED') this.scheduleRejoin();
          else this.scheduleResync(file);
        },
      );
    }, delay);
  }

  private sendPresence(update: Uint8Array): void {
    if (this.closed || !this.socket.connected) return;
    this.socket.emit('presence:update', { shardId: this.shardId, update });
  }

  private sendFullPresence(): void {
    if (this.awareness.getLocalState() === null) return;
    this.sendPresence(encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]));
  }

  private applyTree(change: TreeChange): void {
    switch (change.kind) {
      case 'created':
        this.files.set(change.file.id, change.file.path);
        break;
      case 'renamed':
        for (const m of change.moves) this.files.set(m.id, m.to);
        break;
      case 'deleted':
        for (const f of change.files) {
          this.files.delete(f.id);
          this.closeFile(f.id);
        }
        break;
    }
    this.emit('tree', this.tree(), change);
  }

  private computeStatus(): SessionStatus {
    if (!this.socket.connected) return 'offline';
    if (this.unacked > 0) return 'syncing';
    return this.savedVersion >= this.lastAckedVersion ? 'saved' : 'live';
  }

  private setStatus(status: SessionStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.emit('status', status);
  }

  private waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        this.off('status', check);
        this.off('saved', check);
        reject(new TandemError({ code: 'UNAVAILABLE', message: `timed out waiting for ${what}` }));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.off('status', check);
        this.off('saved', check);
        resolve();
      };
      this.on('status', check);
      this.on('saved', check);
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
