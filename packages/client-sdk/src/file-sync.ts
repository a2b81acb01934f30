import * as Y from 'yjs';
import { isRetryableError, type Ack, type ErrorBody, type FileId } from '@tandem/protocol';
import { OpenFile } from './open-file.js';
import type { Refusal } from './session-events.js';
import type { SessionLink } from './session-link.js';
import { TandemError, unwrap } from './tandem-error.js';

/** What the open files need from the rest of the session. */
export interface FileSyncHooks {
  /** The file's path in the tree shown (undefined when it is not there). */
  pathOf(id: FileId): string | undefined;
  /** A create of the file is queued: the server does not know the file yet. */
  isCreateQueued(id: FileId): boolean;
  /** An edit was stored with `version`, or a handshake read at `version` covers a lost one. */
  require(version: number): void;
  /** The ack of an edit carried `version`, a version of the shard clock. */
  seeVersion(version: number): void;
  /** An edit's ack came, or failed: a gap it would have closed may be due. */
  editSettled(): void;
}

/**
 * The opened files of a session, one Y.Doc each (protocol §7, §8): the handshake, local edits
 * sent and their acks, remote edits applied, files whose edits the server may lack
 * ("unconfirmed") and their resync, and edits refused for good (the user's text offered back,
 * the document reset to the server's state).
 */
export class FileSync {
  private readonly open = new Map<FileId, OpenFile>();
  /** The state of open files a notice deleted, until a "saved" covers the deletion (reviveDeleted). */
  private readonly deletedUnsaved = new Map<FileId, { state: Uint8Array; version: number }>();
  /** `file:edit` requests awaiting their ack. */
  private unacked = 0;
  private readonly refusals = new Map<FileId, Refusal>();

  constructor(
    private readonly link: SessionLink,
    private readonly hooks: FileSyncHooks,
    private readonly gapWaitMs: number,
  ) {}

  isOpen(id: FileId): boolean {
    return this.open.has(id);
  }

  doc(id: FileId): Y.Doc | undefined {
    return this.open.get(id)?.doc;
  }

  /** Opens the file (once) and returns its text after its first handshake. */
  async text(id: FileId): Promise<Y.Text> {
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

  /** The text of a file the server may not know yet (a queued create); its handshake runs once created. */
  localText(id: FileId): Y.Text {
    return (this.open.get(id) ?? this.openDoc(id)).text;
  }

  close(id: FileId): void {
    const file = this.open.get(id);
    if (file === undefined) return;
    this.remove(file);
    this.link.updateStatus();
  }

  /**
   * A notice deleted the file (at `version`). Edits the server has not confirmed (on their way,
   * or kept for a handshake) are given back like a refusal: they may never have reached the file.
   * The document's state is kept until a "saved" covers the deletion (see reviveDeleted).
   */
  deletedRemotely(id: FileId, version: number): void {
    const file = this.open.get(id);
    if (file === undefined) return;
    this.deletedUnsaved.set(id, { state: Y.encodeStateAsUpdate(file.doc), version });
    if (file.unconfirmed > 0 || file.inFlight > 0) {
      file.unconfirmed = Math.max(file.unconfirmed, 1);
      this.fileGone(file, { code: 'FILE_NOT_FOUND', message: 'someone deleted this file' });
    } else {
      this.close(id);
    }
  }

  /** The database holds every version up to `version`: deletions up to it are durable. */
  forgetSaved(version: number): void {
    for (const [id, kept] of this.deletedUnsaved) if (kept.version <= version) this.deletedUnsaved.delete(id);
  }

  /**
   * After a join, before the handshakes. A deletion is broadcast before it reaches the database:
   * if Redis lost the shard first (its instance died before writing the tree), the file is back,
   * loaded from the database without the edits acknowledged since its last sync, which only the
   * clients had and dropped with the file. A kept document whose file `inTree` again is opened,
   * so the handshake sends what the reload lacks. One not in the tree of a restarted clock is
   * gone for good; in the same clock it waits for its "saved".
   */
  reviveDeleted(inTree: (id: FileId) => boolean, clockRestarted: boolean): void {
    for (const [id, kept] of this.deletedUnsaved) {
      if (inTree(id)) {
        if (!this.open.has(id)) {
          const file = this.openDoc(id);
          file.applyRemote(kept.state);
          file.unconfirmed = 1;
          // An editor that still holds the document the deletion closed binds to this one.
          this.link.emit('reset', { fileId: id, text: file.text });
        }
        this.deletedUnsaved.delete(id);
      } else if (clockRestarted) {
        this.deletedUnsaved.delete(id);
      }
    }
  }

  /** Frees every document (the session was left). */
  closeAll(): void {
    for (const file of this.open.values()) file.destroy();
    this.open.clear();
    this.deletedUnsaved.clear();
  }

  /** A create failed for good: closes the file and returns its text, if it was open. */
  discard(id: FileId): string | undefined {
    const file = this.open.get(id);
    if (file === undefined) return undefined;
    const localText = file.text.toString();
    this.remove(file);
    return localText;
  }

  /** A server that chose its own id for a created file: the local document follows it. */
  move(from: FileId, to: FileId): void {
    const file = this.open.get(from);
    if (file === undefined) return;
    this.open.delete(from);
    file.id = to;
    this.open.set(to, file);
  }

  /** The tree changed: remember each open file's path (to name it if it disappears). */
  followPaths(): void {
    for (const file of this.open.values()) file.path = this.hooks.pathOf(file.id) ?? file.path;
  }

  /** Edits refused for good and not dismissed yet, one per file. */
  refused(): Refusal[] {
    return [...this.refusals.values()];
  }

  hasRefusals(): boolean {
    return this.refusals.size > 0;
  }

  dismissRefusal(id: FileId): void {
    if (this.refusals.delete(id)) this.link.updateStatus();
  }

  /** Some edit awaits its ack, or some file has edits the server may lack. */
  hasUnconfirmed(): boolean {
    if (this.unacked > 0) return true;
    for (const file of this.open.values()) if (file.unconfirmed > 0) return true;
    return false;
  }

  hasUnacked(): boolean {
    return this.unacked > 0;
  }

  /** A `file:edited` notice: applies it if the file is open. */
  applyRemote(id: FileId, update: Uint8Array | ArrayBuffer): void {
    const file = this.open.get(id);
    if (file === undefined) return;
    file.applyRemote(update);
    this.checkPending(file);
  }

  /** The handshake of a file whose create was just applied (it sends the text typed meanwhile). */
  syncCreated(id: FileId): void {
    const file = this.open.get(id);
    if (file !== undefined) this.scheduleFileSync(file, 0);
  }

  /** After a join: the handshake of every open file; one deleted meanwhile is closed. */
  /**
   * The handshake for every open file, after a rejoin. Each file's "saved" then also waits for the
   * version the server read it at: if Redis lost the shard meanwhile, what this client had stored
   * may be back only because another client sent it again, under a version this client never
   * learns (and the shard clock may or may not look restarted).
   */
  async syncAll(): Promise<void> {
    const files = [...this.open.values()];
    const results = await Promise.allSettled(files.map((file) => this.syncFile(file, true)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      // Someone deleted the file meanwhile; anything else fails the rejoin, which is retried.
      if (r.reason instanceof TandemError && r.reason.code === 'FILE_NOT_FOUND') this.fileGone(files[i]!, r.reason);
      else throw r.reason;
    });
  }

  /**
   * A remote update whose dependencies are missing stays pending in the Y.Doc: if it still is
   * after gapWaitMs, run the handshake for the file (it fetches what is missing). A pending state
   * the server has too (it was there after the last handshake) is not worth another.
   */
  private checkPending(file: OpenFile): void {
    if (!file.hasNewPending() || file.pendingTimer !== undefined) return;
    file.pendingTimer = setTimeout(() => {
      file.pendingTimer = undefined;
      if (this.open.get(file.id) !== file) return;
      if (file.hasNewPending()) this.scheduleFileSync(file, 0);
    }, this.gapWaitMs);
  }

  private refusal(file: OpenFile, error: ErrorBody): Refusal {
    return { fileId: file.id, path: this.hooks.pathOf(file.id) ?? file.path, error, localText: file.text.toString() };
  }

  private remove(file: OpenFile): void {
    file.destroy();
    this.open.delete(file.id);
  }

  private openDoc(id: FileId): OpenFile {
    const file = new OpenFile(id, this.hooks.pathOf(id) ?? '', (f, update) => this.sendEdit(f, update));
    this.open.set(id, file);
    return file;
  }

  /**
   * The Yjs sync handshake for one file: send our state vector, apply what we lack, then send
   * what the server lacks (edits made offline, whose ack was lost, or lost by the server). Edits
   * whose ack was lost are covered by the version the server read the file at.
   */
  private async syncFile(file: OpenFile, requireServerVersion = false): Promise<void> {
    if (this.hooks.isCreateQueued(file.id)) return; // the server does not know it yet: synced once created
    const unconfirmed = file.unconfirmed;
    const data = unwrap(
      await this.link.request('file:sync', {
        shardId: this.link.shardId,
        fileId: file.id,
        stateVector: file.stateVector(),
      }),
    );
    if (this.open.get(file.id) !== file) return;
    const missing = file.applySync(data.update, data.stateVector);
    if (unconfirmed > 0) file.unconfirmed -= unconfirmed;
    if (unconfirmed > 0 || requireServerVersion) this.hooks.require(data.version);
    if (missing !== null) this.sendEdit(file, missing);
    this.link.updateStatus();
  }

  /** Runs the handshake for one file after `delayMs` (retried with backoff while it fails). */
  private scheduleFileSync(file: OpenFile, delayMs: number): void {
    if (file.syncTimer !== undefined || this.link.isClosed()) return;
    file.syncTimer = setTimeout(() => {
      file.syncTimer = undefined;
      if (this.link.isClosed() || this.open.get(file.id) !== file) return;
      // Not joined: the rejoin runs every handshake.
      if (!this.link.isJoined()) return;
      this.syncFile(file).then(
        () => {
          file.resetBackOff();
        },
        (error: unknown) => {
          if (error instanceof TandemError && error.code === 'NOT_JOINED') {
            this.link.lostJoin();
          } else if (error instanceof TandemError && error.code === 'FILE_NOT_FOUND') {
            this.fileGone(file, error);
          } else {
            this.scheduleFileSync(file, file.backOff());
          }
        },
      );
    }, delayMs);
  }

  private sendEdit(file: OpenFile, update: Uint8Array): void {
    if (!this.link.canWrite() || this.link.isClosed()) return;
    if (!this.link.isJoined() || this.hooks.isCreateQueued(file.id)) {
      // Kept in the document; the handshake after the (re)join or the create sends it.
      file.unconfirmed++;
      this.link.updateStatus();
      return;
    }
    this.unacked++;
    file.inFlight++;
    this.link.updateStatus();
    this.link
      .request('file:edit', { shardId: this.link.shardId, fileId: file.id, update })
      .then(
        (ack: Ack<{ version: number }>) => {
          if (ack.ok) {
            this.hooks.require(ack.data.version);
            this.hooks.seeVersion(ack.data.version);
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
        file.inFlight = Math.max(0, file.inFlight - 1);
        this.unacked = Math.max(0, this.unacked - 1);
        this.link.updateStatus();
        this.hooks.editSettled();
      });
  }

  private onEditRefused(file: OpenFile, error: ErrorBody): void {
    if (this.open.get(file.id) !== file) return; // refused before, already replaced
    if (error.code === 'NOT_JOINED') {
      // The server forgot this socket's join (e.g. a rejoin failed): join again, which also
      // runs the handshake that sends this edit.
      file.unconfirmed++;
      this.link.lostJoin();
    } else if (isRetryableError(error.code)) {
      file.unconfirmed++;
      this.scheduleFileSync(file, Math.max(file.backOff(), 500));
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
    const refusal = this.refusal(file, error);
    this.refusals.set(file.id, refusal);
    this.remove(file);
    const fresh = this.openDoc(file.id);
    this.link.updateStatus();
    this.link.emit('refused', refusal);
    // Also as a plain error, for listeners that only log errors (the same object, so a UI that
    // shows refusals can skip it).
    this.link.emit('error', error);
    // Not joined: the rejoin runs the handshake of every open file, this one included.
    const synced = this.link.isJoined() ? this.syncFile(fresh) : Promise.resolve();
    fresh.ready = synced.catch((syncError: unknown) => {
      if (syncError instanceof TandemError && syncError.code === 'FILE_NOT_FOUND') return;
      this.scheduleFileSync(fresh, 500);
    });
    void fresh.ready.then(() => {
      if (this.open.get(fresh.id) === fresh) this.link.emit('reset', { fileId: fresh.id, text: fresh.text });
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
      const refusal = this.refusal(file, body);
      this.refusals.set(file.id, refusal);
      this.link.emit('refused', refusal);
    }
    this.remove(file);
    this.link.updateStatus();
    this.link.emit('error', body);
  }
}
