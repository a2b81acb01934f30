import * as Y from 'yjs';

/** The name of the Y.Text that holds a file's content in its Y.Doc (shared with the client SDK). */
export const TEXT_NAME = 'content';

/** A full Yjs state for a new file with this text. */
export function stateFromText(text: string): Uint8Array {
  const doc = new Y.Doc({ gc: true });
  try {
    if (text !== '') doc.getText(TEXT_NAME).insert(0, text);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

/** The text of a Yjs state or update list. */
export function textFromUpdates(updates: readonly Uint8Array[]): string {
  const doc = new Y.Doc({ gc: true });
  try {
    for (const u of updates) Y.applyUpdate(doc, u);
    return doc.getText(TEXT_NAME).toString();
  } finally {
    doc.destroy();
  }
}

/** Merges updates into one, with garbage collection applied (a Y.Doc round trip). */
export function mergeToState(updates: readonly Uint8Array[]): { state: Uint8Array; text: string } {
  const doc = new Y.Doc({ gc: true });
  try {
    for (const u of updates) Y.applyUpdate(doc, u);
    return { state: Y.encodeStateAsUpdate(doc), text: doc.getText(TEXT_NAME).toString() };
  } finally {
    doc.destroy();
  }
}

/**
 * The update that turns the document held in `updates` into one whose text is `next`: a single
 * replace of the differing middle, so concurrent edits elsewhere in the file survive.
 * Returns null when the text is already equal.
 */
export function updateToText(updates: readonly Uint8Array[], next: string): Uint8Array | null {
  const doc = new Y.Doc({ gc: true });
  try {
    for (const u of updates) Y.applyUpdate(doc, u);
    const text = doc.getText(TEXT_NAME);
    const current = text.toString();
    if (current === next) return null;
    let start = 0;
    const max = Math.min(current.length, next.length);
    while (start < max && current.charCodeAt(start) === next.charCodeAt(start)) start++;
    let end = 0;
    while (
      end < max - start &&
      current.charCodeAt(current.length - 1 - end) === next.charCodeAt(next.length - 1 - end)
    ) {
      end++;
    }
    const before = Y.encodeStateVector(doc);
    doc.transact(() => {
      text.delete(start, current.length - start - end);
      text.insert(start, next.slice(start, next.length - end));
    });
    return Y.encodeStateAsUpdate(doc, before);
  } finally {
    doc.destroy();
  }
}

/**
 * True when `update` is a Yjs update (v1 encoding) that applies cleanly to a document and
 * touches no shared type but the file's text. Checked before an update is stored, because a
 * stored update that fails to apply would break the file for every collaborator.
 */
export function isValidUpdate(update: Uint8Array): boolean {
  const doc = new Y.Doc({ gc: true });
  try {
    Y.decodeUpdate(update);
    Y.applyUpdate(doc, update);
    for (const name of doc.share.keys()) if (name !== TEXT_NAME) return false;
    // A map written under the text's name would make the file unreadable as text.
    if (doc.share.has(TEXT_NAME) && doc.getText(TEXT_NAME)._map.size > 0) return false;
    return true;
  } catch {
    // Any decoding or applying failure means the bytes are not a usable update; the caller
    // reports UPDATE_MALFORMED.
    return false;
  } finally {
    doc.destroy();
  }
}
