import * as Y from 'yjs';

/** The name of the Y.Text that holds a file's content in its Y.Doc (shared with the client SDK). */
export const TEXT_NAME = 'content';

/**
 * A short-lived document for merging or reading updates. Its guid is fixed: a Y.Doc draws a
 * random uuid (31 calls to the random source) when none is given, which made every scratch
 * document cost about 100 µs; the guid only matters for subdocuments, which files never hold.
 */
function scratchDoc(): Y.Doc {
  return new Y.Doc({ gc: true, guid: 'tandem-scratch' });
}

/** A full Yjs state for a new file with this text. */
export function stateFromText(text: string): Uint8Array {
  const doc = scratchDoc();
  try {
    if (text !== '') doc.getText(TEXT_NAME).insert(0, text);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

/** The text of a Yjs state or update list. */
export function textFromUpdates(updates: readonly Uint8Array[]): string {
  const doc = scratchDoc();
  try {
    for (const u of updates) Y.applyUpdate(doc, u);
    return doc.getText(TEXT_NAME).toString();
  } finally {
    doc.destroy();
  }
}

/** Merges updates into one, with garbage collection applied (a Y.Doc round trip). */
export function mergeToState(updates: readonly Uint8Array[]): { state: Uint8Array; text: string } {
  const doc = scratchDoc();
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
  const doc = scratchDoc();
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
 *
 * Runs on every edit, so the common shape — what an editor sends while typing: items of text,
 * formatting, embeds or deletions, each either placed next to other items or put explicitly
 * under the root text — is checked on the decoded structs alone: every explicit parent must be
 * the root `content` with no map key, and every reference to the sender's own items must point
 * backwards in its clock (Yjs throws on a forward one while integrating). Those items integrate
 * without error whatever else the document holds. Anything else (garbage-collected ranges,
 * skips, nested types, other content) also goes through a full apply to an empty Y.Doc, as
 * before. Building a Y.Doc costs about 100 µs (its guid alone draws 31 random numbers), which
 * was the largest self-time item of the edit path.
 */
export function isValidUpdate(update: Uint8Array): boolean {
  let structs: Array<Y.Item | Y.GC | Y.Skip>;
  try {
    structs = Y.decodeUpdate(update).structs;
  } catch {
    // Truncated or garbage bytes: not an update.
    return false;
  }
  let simple = true;
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) {
      simple = false;
      continue;
    }
    // A decoded item's parent is the root type's name (string), the id of a nested type, or
    // null when it is placed by its origins (and then inherits its neighbours' parent).
    const parent = struct.parent as unknown;
    if (typeof parent === 'string') {
      if (parent !== TEXT_NAME || struct.parentSub !== null) return false;
    } else if (parent !== null) {
      simple = false;
    }
    const { client, clock } = struct.id;
    for (const ref of [struct.origin, struct.rightOrigin]) {
      if (ref !== null && ref.client === client && ref.clock >= clock) return false;
    }
    if (!SIMPLE_CONTENT.some((kind) => struct.content instanceof kind)) simple = false;
  }
  return simple || appliesToEmptyText(update);
}

const SIMPLE_CONTENT = [Y.ContentString, Y.ContentDeleted, Y.ContentFormat, Y.ContentEmbed];

/** The full check: the update applies to an empty document and creates only the text. */
function appliesToEmptyText(update: Uint8Array): boolean {
  const doc = scratchDoc();
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
