import { isRetryableError, type Ack, type ErrorBody, type FileId } from '@tandem/protocol';
import type { AckData } from './socket-types.js';
import type { TreeOpFailure } from './session-events.js';
import type { SessionLink } from './session-link.js';
import { TandemError } from './tandem-error.js';
import { checkPath, describeTreeOpFailure, randomId, type TreeOp } from './tree-ops.js';

/**
 * An operation the server acknowledged with `version` of the shard clock numbered `clock` (see
 * TreeOpQueue.clockRestarted), kept until the database holds it.
 */
export type AckedOp = { op: TreeOp; version: number; clock: number };

type QueuedOp = {
  op: TreeOp;
  queuedOffline: boolean;
  /** A create whose file a notice deleted: it was applied (its ack was lost) and is over. */
  deleted?: boolean;
  resolve: (data: unknown) => void;
  reject: (error: TandemError) => void;
};

/** What the queue tells the session about the outcome of an operation. */
export interface TreeOpHooks {
  /** The server stored an operation with `version` (its `tree:changed` may come later). */
  stored(version: number): void;
  /** The tree shown must be recomputed: an operation was queued, applied, failed or replayed. */
  treeChanged(): void;
  /** The server gave a created file another id than the one chosen: its open document follows. */
  fileMoved(from: FileId, to: FileId): void;
  /** A create was applied: the file's handshake can run (it sends the text typed meanwhile). */
  created(fileId: FileId): void;
  /** A create failed for good: close the file's document and return its text (if it was open). */
  discardCreated(fileId: FileId): string | undefined;
}

/**
 * The file operations of a session (protocol §8 "reference client", §10 step 3): queued ones,
 * sent one at a time and in order while joined; the one in flight; and the acknowledged ones the
 * database may not hold yet, sent again with their opIds after every join.
 */
export class TreeOpQueue {
  private readonly queue: QueuedOp[] = [];
  /** Acknowledged file operations not yet known to be in the database: replayed after every rejoin. */
  private acked: AckedOp[] = [];
  private replaying = false;
  private inFlight = false;
  private pumping: Promise<void> | undefined;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private pumpDelayMs = 250;
  /**
   * Which shard clock the versions are from: raised each time Redis lost the shard and its clock
   * restarted. A version of an earlier clock says nothing about what the database holds now.
   */
  private clock = 0;

  constructor(
    private readonly link: SessionLink,
    private readonly hooks: TreeOpHooks,
  ) {}

  /** Operations waiting to be applied by the server, oldest first. */
  queuedOps(): TreeOp[] {
    return this.queue.map((q) => q.op);
  }

  /** Acknowledged operations the database may not hold yet, oldest first. */
  ackedOps(): readonly AckedOp[] {
    return this.acked;
  }

  /** Some operation is queued, or acknowledged ones are being replayed. */
  isBusy(): boolean {
    return this.queue.length > 0 || this.replaying;
  }

  /** An operation was sent and its ack has not come yet. */
  isInFlight(): boolean {
    return this.inFlight;
  }

  /** A create of this file is queued: the server does not know the file yet. */
  isCreateQueued(id: FileId): boolean {
    return this.queue.some((q) => q.op.kind === 'create' && q.op.fileId === id);
  }

  /**
   * Queues the create of a file at `path` (a TandemError if the path is invalid). The file gets
   * its final id now, so it can be opened and typed into before the server knows it.
   */
  create(path: string): { fileId: FileId; applied: Promise<AckData<'file:create'>> } {
    const canonical = checkPath(path);
    const fileId = randomId(16) as FileId;
    const applied = this.enqueue<AckData<'file:create'>>({
      kind: 'create',
      opId: randomId(20),
      path: canonical,
      fileId,
    });
    return { fileId, applied };
  }

  rename(from: string, to: string): Promise<AckData<'file:rename'>> {
    return this.enqueue({ kind: 'rename', opId: randomId(20), from: checkPath(from), to: checkPath(to) });
  }

  delete(path: string): Promise<AckData<'file:delete'>> {
    return this.enqueue({ kind: 'delete', opId: randomId(20), path: checkPath(path) });
  }

  /** Queues `op`; resolves with the ack's data once the server applied it. */
  private enqueue<T>(op: TreeOp): Promise<T> {
    if (!this.link.canWrite())
      return Promise.reject(new TandemError({ code: 'READ_ONLY', message: 'you can only view this project' }));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        op,
        queuedOffline: !this.link.isConnected(),
        resolve: resolve as (data: unknown) => void,
        reject,
      });
      this.link.emit('queue', this.queue.length);
      this.hooks.treeChanged();
      this.link.updateStatus();
      void this.pump();
    });
  }

  /**
   * The database holds everything up to `version` of the current shard clock: those operations
   * need no replay. Operations acknowledged under an earlier clock are kept until replayed.
   */
  forgetSaved(version: number): void {
    this.acked = this.acked.filter((entry) => entry.clock !== this.clock || entry.version > version);
  }

  /**
   * A notice deleted these files. A create of one of them was applied (the file id exists only
   * through it) and is over: sent again — its ack was lost, or as a replay after Redis lost the
   * shard, both possibly after the deleter's own replay — it would bring the deleted file back.
   */
  filesDeleted(ids: readonly FileId[]): void {
    const gone = new Set(ids);
    const isGone = (op: TreeOp) => op.kind === 'create' && gone.has(op.fileId);
    this.acked = this.acked.filter((entry) => !isGone(entry.op));
    for (const q of this.queue) if (isGone(q.op)) q.deleted = true;
  }

  /**
   * The shard clock restarted (Redis lost the shard): the versions of acknowledged operations
   * are no longer comparable with the new clock's watermarks. Those up to `savedBefore` (the
   * version the new clock started at, the database watermark then; 0 when unknown) are in the
   * database; every other one is replayed before it is dropped.
   */
  clockRestarted(savedBefore: number): void {
    this.acked = this.acked.filter((entry) => entry.version > savedBefore);
    this.clock++;
  }

  /**
   * After a join: sends again every acknowledged operation the database may not hold yet, then
   * the queued ones. With the same opIds the server answers with the first outcome; if Redis lost
   * the shard, they apply again (created files keep their ids, so the handshakes restore their text).
   */
  async resend(): Promise<void> {
    this.replaying = true;
    try {
      let pending = [...this.acked];
      for (let round = 0; pending.length > 0; round++) {
        const later: AckedOp[] = [];
        for (const entry of pending) {
          const ack = await this.send(entry.op);
          if (ack.ok) {
            entry.version = ack.data.version;
            entry.clock = this.clock;
            this.hooks.stored(ack.data.version);
          } else if (isRetryableError(ack.error.code)) {
            throw new TandemError(ack.error);
          } else if (ack.error.code === 'FILE_NOT_FOUND' && round < REPLAY_ROUNDS) {
            // After Redis lost the shard, every client replays its own operations, in no order
            // between clients: the file this one acts on may be another client's, not yet
            // created again. Tried again shortly, in order, after the others had their turn.
            later.push(entry);
          } else {
            // The tree moved on since (someone renamed or deleted those files): what the server
            // has now stands; this operation was already applied once and reported as done.
            this.acked = this.acked.filter((e) => e !== entry);
          }
        }
        pending = later;
        if (pending.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, REPLAY_RETRY_MS * 2 ** round));
        // Disconnected meanwhile: the next rejoin replays them again.
        if (this.link.isClosed() || !this.link.isJoined()) return;
      }
    } finally {
      this.replaying = false;
    }
    this.hooks.treeChanged();
    await this.pump();
  }

  /** Sends queued operations in order, one at a time, while joined. */
  pump(): Promise<void> {
    this.pumping ??= this.runQueue().finally(() => {
      this.pumping = undefined;
      this.link.updateStatus();
    });
    return this.pumping;
  }

  /** Stops retrying and rejects every queued operation (the session was left). */
  close(): void {
    clearTimeout(this.pumpTimer);
    for (const q of this.queue.splice(0))
      q.reject(new TandemError({ code: 'UNAVAILABLE', message: 'left the project before the change was applied' }));
  }

  private async runQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.link.isClosed() && this.link.isJoined() && !this.replaying) {
      const item = this.queue[0]!;
      if (item.deleted === true && item.op.kind === 'create') {
        // Applied and deleted since (filesDeleted): done, never sent again.
        this.queue.shift();
        this.link.emit('queue', this.queue.length);
        this.hooks.treeChanged();
        item.resolve({ file: { id: item.op.fileId, path: item.op.path }, version: 0 });
        continue;
      }
      this.inFlight = true;
      let ack: Ack<{ version: number }> | undefined;
      try {
        ack = await this.send(item.op);
      } catch {
        // Ack lost (timeout or disconnect): the same opId goes again; the server applies it once.
        ack = undefined;
      } finally {
        this.inFlight = false;
      }
      if (ack === undefined || (!ack.ok && isRetryableError(ack.error.code))) {
        if (ack !== undefined && ack.error.code === 'NOT_JOINED') this.link.lostJoin();
        else if (this.link.isConnected()) this.retryLater();
        return;
      }
      this.pumpDelayMs = 250;
      this.queue.shift();
      this.link.emit('queue', this.queue.length);
      if (ack.ok) this.applied(item, ack.data);
      else this.failed(item, ack.error);
    }
  }

  private retryLater(): void {
    if (this.pumpTimer !== undefined) return;
    const delay = this.pumpDelayMs;
    this.pumpDelayMs = Math.min(this.pumpDelayMs * 2, 5_000);
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      void this.pump();
    }, delay);
  }

  private send(op: TreeOp): Promise<Ack<{ version: number }>> {
    const shardId = this.link.shardId;
    switch (op.kind) {
      case 'create':
        // Created empty: its text travels as an edit of the file's document, so a replay of the
        // create never inserts it twice.
        return this.link.request('file:create', {
          shardId,
          path: op.path,
          content: '',
          fileId: op.fileId,
          opId: op.opId,
        });
      case 'rename':
        return this.link.request('file:rename', { shardId, from: op.from, to: op.to, opId: op.opId });
      case 'delete':
        return this.link.request('file:delete', { shardId, path: op.path, opId: op.opId });
    }
  }

  private applied(item: QueuedOp, data: { version: number } & Partial<AckData<'file:create'>>): void {
    let op = item.op;
    if (op.kind === 'create' && data.file !== undefined) {
      if (data.file.id !== op.fileId) this.hooks.fileMoved(op.fileId, data.file.id);
      op = { ...op, fileId: data.file.id, path: data.file.path };
    }
    if (item.deleted !== true) this.acked.push({ op, version: data.version, clock: this.clock });
    this.hooks.stored(data.version);
    this.hooks.treeChanged();
    item.resolve(data);
    if (op.kind === 'create') this.hooks.created(op.fileId);
  }

  private failed(item: QueuedOp, error: ErrorBody): void {
    const message = describeTreeOpFailure(item.op, error, item.queuedOffline);
    const failure: TreeOpFailure = { op: item.op, message, error };
    if (item.op.kind === 'create') {
      const localText = this.hooks.discardCreated(item.op.fileId);
      if (localText !== undefined) failure.localText = localText;
    }
    this.hooks.treeChanged();
    this.link.emit('op-failed', failure);
    item.reject(new TandemError({ code: error.code, message, ...(error.details ? { details: error.details } : {}) }));
  }
}

/** Rounds of retrying a replayed operation whose file is not there (yet) after Redis lost the shard. */
const REPLAY_ROUNDS = 4;
/** Wait before the first retry round; doubled each round (0.25 + 0.5 + 1 + 2 s at most). */
const REPLAY_RETRY_MS = 250;
