import type * as Y from 'yjs';
import type { CheckpointedEvent, ErrorBody, FileEntry, FileId, RestoredEvent, TreeChange } from '@tandem/protocol';
import type { TreeOp } from './tree-ops.js';

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

/** The events of a ShardSession. */
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
  /**
   * A file's document was replaced: after a refusal, or when a file a notice deleted is back
   * after a rejoin (its deletion was lost with the server's live state) and its kept state is
   * open again. Editors still holding the old document must bind to the new `text`.
   */
  reset: [{ fileId: FileId; text: Y.Text }];
  /** A file operation no longer applies; the tree shows the server's state again. */
  'op-failed': [TreeOpFailure];
  /**
   * Someone (maybe this user) restored a file, a folder or the whole shard to a checkpoint: who,
   * which checkpoint, and `before`, the checkpoint to restore to undo it. The restored text and
   * files arrive as ordinary edits and tree changes.
   */
  restored: [RestoredEvent];
  /**
   * A checkpoint of the shard was recorded, by anyone: named ("Name this version", this user's
   * too) or automatic (interval, last leave, before a delete or a restore). Its summary is what
   * `TandemRest.listCheckpoints` would list first.
   */
  checkpointed: [CheckpointedEvent];
  /** The number of file operations waiting to be applied by the server changed. */
  queue: [number];
  /**
   * The shard was deleted (by its owner or an admin). The session is closed: nothing more is
   * sent or received, and changes not yet acknowledged are gone with the shard.
   */
  deleted: [];
  /** The shard was renamed (`session.shard.name` already holds the new name). */
  renamed: [string];
};

/** How the session's parts emit its public events. */
export type EmitSessionEvent = <E extends keyof SessionEvents>(event: E, ...args: SessionEvents[E]) => void;
