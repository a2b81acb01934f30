import * as Y from 'yjs';
import { TEXT_NAME, type FileId } from '@tandem/protocol';
import { REMOTE, toU8 } from './socket-types.js';

/**
 * One opened file: its Y.Doc (local updates go to `onLocalUpdate`; updates from the server are
 * applied with the REMOTE origin, so they are never sent back), the local edits the server may
 * lack, and the timers and backoff of its resync.
 */
export class OpenFile {
  readonly doc = new Y.Doc();
  readonly text: Y.Text;
  /** Settles when its first handshake did. */
  ready: Promise<void> = Promise.resolve();
  /** Local edits the server may lack (ack lost, refused for now, made offline): a handshake must run. */
  unconfirmed = 0;
  /** Edits sent whose ack has not come yet. */
  inFlight = 0;
  pendingTimer: ReturnType<typeof setTimeout> | undefined;
  syncTimer: ReturnType<typeof setTimeout> | undefined;
  /** The missing dependencies already reported to the server by a handshake (not worth another). */
  private knownPending: string | null = null;
  private syncDelayMs = 250;
  private readonly unsubscribe: () => void;

  constructor(
    public id: FileId,
    /** Its last known path (kept when the file disappears from the tree, to name it to the user). */
    public path: string,
    onLocalUpdate: (file: OpenFile, update: Uint8Array) => void,
  ) {
    this.text = this.doc.getText(TEXT_NAME);
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) onLocalUpdate(this, update);
    };
    this.doc.on('update', onUpdate);
    this.unsubscribe = () => this.doc.off('update', onUpdate);
  }

  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  applyRemote(update: Uint8Array | ArrayBuffer): void {
    Y.applyUpdate(this.doc, toU8(update), REMOTE);
  }

  /** Applies a handshake's answer; returns what the server lacks, or null when it lacks nothing. */
  applySync(update: Uint8Array | ArrayBuffer, serverStateVector: Uint8Array | ArrayBuffer): Uint8Array | null {
    this.applyRemote(update);
    this.knownPending = pendingKey(this.doc);
    const missing = Y.encodeStateAsUpdate(this.doc, toU8(serverStateVector));
    return hasContent(missing) ? missing : null;
  }

  /** A remote update waits for a dependency that the last handshake did not already lack. */
  hasNewPending(): boolean {
    const key = pendingKey(this.doc);
    return key !== null && key !== this.knownPending;
  }

  /** The next retry delay of its handshake (doubling, at most 30 s). */
  backOff(): number {
    this.syncDelayMs = Math.min(this.syncDelayMs * 2, 30_000);
    return this.syncDelayMs;
  }

  resetBackOff(): void {
    this.syncDelayMs = 250;
  }

  /** Stops its timers and frees the document. */
  destroy(): void {
    clearTimeout(this.pendingTimer);
    clearTimeout(this.syncTimer);
    this.unsubscribe();
    this.doc.destroy();
  }
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
