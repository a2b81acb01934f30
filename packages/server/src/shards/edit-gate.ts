import type { FileId, ShardId } from '@tandem/protocol';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import { syncOnBacklog } from './backlog.js';
import type { Faults } from '../faults/index.js';
import type { Config } from '../config/index.js';
import {
  checkTextUpdate,
  type AuthorNote,
  type FileStateVectors,
  type ShardCache,
  type StateVector,
  type StoredEdit,
  type TextUpdate,
} from '../shard-cache/index.js';

export type EditGateDeps = {
  cache: ShardCache;
  /** What Redis holds of each file, to refuse edits whose dependencies it lacks. */
  stateVectors: FileStateVectors;
  limits: Config['limits'];
  /** A write was refused for the shard's unsynced backlog: sync that shard now. */
  onBacklog?: (shardId: ShardId) => void;
  /** Test-only fault injection (an edit held before its store). */
  faults?: Faults | undefined;
};

/**
 * What a Yjs update passes before it is stored: a size cap, a plain-text check (a file is one
 * Y.Text named `content` and nothing else) and a dependency check against what Redis holds of the
 * file. Updates of one sender to one file are checked and stored one after another.
 */
export class EditGate {
  /** Per file and sender (`shardId/fileId/socketId`): the tail of its edits on this instance, run one after another. */
  private readonly editChains = new Map<string, Promise<void>>();

  constructor(private readonly deps: EditGateDeps) {}

  /**
   * Checks an update and stores it; the returned version means it is in Redis. `fromInstance`:
   * the instance whose socket sent it; `author`: noted with it (see FileStore.appendEdit);
   * `sender`: the socket that sent it (none for REST).
   */
  async admit(
    shardId: ShardId,
    fileId: FileId,
    update: Uint8Array,
    options: {
      fromInstance?: string | undefined;
      author?: AuthorNote | undefined;
      sender?: string | undefined;
    } = {},
  ): Promise<StoredEdit> {
    if (update.byteLength > this.deps.limits.maxUpdateBytes) {
      throw new AppError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `an update may hold at most ${this.deps.limits.maxUpdateBytes} bytes`,
      );
    }
    const parsed = checkTextUpdate(update);
    if (parsed === 'malformed') {
      throw new AppError(ErrorCode.UPDATE_MALFORMED, 'the update is not a valid Yjs update (v1 encoding)');
    }
    if (parsed === 'not-text') {
      throw new AppError(
        ErrorCode.UPDATE_MALFORMED,
        `a file holds plain text only: the update puts something else (an embed, formatting, another shared type) into it or writes outside its "content" text`,
      );
    }
    // One at a time per file and sender: an editor's next keystroke builds on the previous one,
    // whose check and store must be done before the next one is checked. Edits of different
    // senders do not wait for each other: what one builds on of another's it received in a
    // broadcast, which comes after the store (and after noteStored below, in the same step).
    // A chain per file made every collaborator's keystrokes wait for each other's Redis round
    // trips, so a short slowdown of Redis or of the event loop queued a busy file's edits for
    // up to a second (docs/benchmarks.md, change 28).
    return this.serially(`${shardId}/${fileId}/${options.sender ?? ''}`, async () => {
      if (this.deps.faults !== undefined) await this.deps.faults.beforeEditStore();
      const advanced = await this.requireDependencies(shardId, fileId, parsed);
      const stored = await syncOnBacklog(shardId, this.deps.onBacklog, () =>
        this.deps.cache.files.appendEdit(shardId, fileId, update, options),
      );
      if (advanced !== undefined) this.deps.stateVectors.noteStored(shardId, fileId, advanced);
      return stored;
    });
  }

  /**
   * Refuses an update that would not fully integrate into what Redis holds of the file (an origin,
   * an earlier item of its client or a deleted item is missing): stored, it would stay pending in
   * every document built from the file, forever if the missing part never comes. The code is one
   * the SDK retries by running the sync handshake again (docs/protocol.md §7), which sends the
   * server everything it lacks, the missing part included. Returns the clocks the update moves
   * (none when the file is unknown: the store refuses it).
   */
  private async requireDependencies(
    shardId: ShardId,
    fileId: FileId,
    update: TextUpdate,
  ): Promise<StateVector | undefined> {
    let checked = await this.deps.stateVectors.check(shardId, fileId, update);
    if (checked.found === 'unknown') {
      await this.deps.cache.loader.ensureLoaded(shardId);
      checked = await this.deps.stateVectors.check(shardId, fileId, update);
    }
    // 'unknown' again: no updates for this file even with the shard loaded; the store refuses
    // the edit with FILE_NOT_FOUND.
    if (checked.found === 'ok') return checked.advanced;
    if (checked.found === 'missing') {
      throw new AppError(
        ErrorCode.SHARD_UNAVAILABLE,
        'the update depends on edits the server does not have; run file:sync for this file and send what the server lacks',
        { details: { fileId, reason: 'missing-dependencies' } },
      );
    }
    return undefined;
  }

  private serially<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.editChains.get(key) ?? Promise.resolve();
    const run = previous.then(op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.editChains.set(key, tail);
    void tail.then(() => {
      if (this.editChains.get(key) === tail) this.editChains.delete(key);
    });
    return run;
  }
}
