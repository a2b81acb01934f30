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

/**
 * One update equivalent to `updates`, merged in a balanced tree of small groups. Y.mergeUpdates
 * re-sorts its readers for every struct it emits, so merging thousands of updates in one call is
 * quadratic (8,000 typed edits: 4 s); in groups of MERGE_FAN it is O(n log n) (about 0.1 s), and
 * applying the one merged update costs what applying a state costs, however many updates hold
 * structs that can never integrate (applying them one by one re-tried those on every update: 18 s).
 */
export function mergeUpdatesBalanced(updates: readonly Uint8Array[]): Uint8Array {
  if (updates.length === 0) return EMPTY_UPDATE;
  let level: readonly Uint8Array[] = updates;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += MERGE_FAN) {
      const group = level.slice(i, i + MERGE_FAN);
      next.push(group.length === 1 ? (group[0] as Uint8Array) : Y.mergeUpdates(group));
    }
    level = next;
  }
  return level[0] as Uint8Array;
}

const MERGE_FAN = 16;
const EMPTY_UPDATE = new Uint8Array([0, 0]);

/**
 * A scratch document holding `updates`: the first applied on its own, the rest as one merged
 * update (see mergeUpdatesBalanced). A file's list starts with its stored or compacted state,
 * the bulk of it; merging that into the rest first decoded and re-encoded all of it once more
 * before the document decoded it again (about 40 % of a sync's merge of a typed-into file,
 * docs/benchmarks.md change 27). The document is the same either way.
 */
function docOf(updates: readonly Uint8Array[]): Y.Doc {
  const doc = scratchDoc();
  const [first, ...rest] = updates;
  if (first !== undefined) Y.applyUpdate(doc, first);
  if (rest.length > 0) Y.applyUpdate(doc, mergeUpdatesBalanced(rest));
  return doc;
}

/** The text of a Yjs state or update list. */
export function textFromUpdates(updates: readonly Uint8Array[]): string {
  const doc = docOf(updates);
  try {
    return doc.getText(TEXT_NAME).toString();
  } finally {
    doc.destroy();
  }
}

/** Merges updates into one, with garbage collection applied (a Y.Doc round trip). */
export function mergeToState(updates: readonly Uint8Array[]): { state: Uint8Array; text: string } {
  const doc = docOf(updates);
  try {
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
  const doc = docOf(updates);
  try {
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

/** A decoded update that holds only plain text for the file (see checkTextUpdate). */
export type TextUpdate = ReturnType<typeof Y.decodeUpdate>;

/**
 * Decodes a Yjs update (v1) and checks that it can only ever put plain text into the file's
 * `content` Y.Text: every item holds a string (or deleted content), sits directly under the root
 * `content` text (an explicit parent) or next to other items (no parent written: it inherits its
 * neighbours', which are all text by the same rule), and has no map key. Embeds, formatting
 * attributes, nested types, other root types and map entries on the text are refused: an embed
 * froze collaborators' editors, and content typed into another type shifted their lines.
 * Garbage-collected ranges and skips carry no content and are fine.
 *
 * Also refuses an item that names a later item of its own client as an origin (Yjs throws while
 * integrating it). Runs on every edit and on what a client sends after the sync handshake, on the
 * decoded structs alone: no Y.Doc.
 */
export function checkTextUpdate(update: Uint8Array): TextUpdate | 'malformed' | 'not-text' {
  let decoded: TextUpdate;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    // Truncated or garbage bytes: not an update.
    return 'malformed';
  }
  for (const struct of decoded.structs) {
    if (!(struct instanceof Y.Item)) continue;
    // A decoded item's parent is the root type's name (string), the id of a nested type, or
    // null when it is placed by its origins (and then inherits its neighbours' parent).
    const parent = struct.parent as unknown;
    if (parent !== null && parent !== TEXT_NAME) return 'not-text';
    if (struct.parentSub !== null) return 'not-text';
    if (!(struct.content instanceof Y.ContentString) && !(struct.content instanceof Y.ContentDeleted)) {
      return 'not-text';
    }
    const { client, clock } = struct.id;
    for (const ref of [struct.origin, struct.rightOrigin]) {
      if (ref !== null && ref.client === client && ref.clock >= clock) return 'malformed';
    }
  }
  return decoded;
}

/** True when `update` decodes and holds only plain text for the file (see checkTextUpdate). */
export function isValidUpdate(update: Uint8Array): boolean {
  return typeof checkTextUpdate(update) !== 'string';
}

/** Per client, the next clock a document expects (what Y.encodeStateVector describes). */
export type StateVector = Map<number, number>;

/**
 * Integrates `update` into a document whose state vector is `state`, as Yjs would, and says
 * whether all of it would integrate; `advanced` holds the clocks it moves (`state` is not
 * changed: see advanceState). Yjs keeps whatever cannot integrate yet (an item whose origin, right
 * origin or earlier items of its own client are missing; a deletion of items it does not have) as
 * pending and retries it on every later update, forever if the missing part never comes: that made
 * every read of the file slower with each such edit. So an edit is only stored when it integrates.
 *
 * Items of several clients may depend on each other within one update in any order (a client that
 * restores edits the server lost sends them all at once): each blocked item waits on the one
 * (client, clock) it lacks, in a min-heap per client, and is retried when that client's clock
 * passes it — O(n log n) in the update's structs, whatever their order.
 */
export function integrateIntoState(
  state: ReadonlyMap<number, number>,
  update: TextUpdate,
): { complete: boolean; advanced: StateVector } {
  const runs = new Map<number, Array<Y.Item | Y.GC | Y.Skip>>();
  for (const struct of update.structs) {
    let run = runs.get(struct.id.client);
    if (run === undefined) runs.set(struct.id.client, (run = []));
    run.push(struct);
  }
  const advanced: StateVector = new Map();
  const clockOf = (client: number) => advanced.get(client) ?? state.get(client) ?? 0;
  const next = new Map<number, number>();
  const waiting = new Map<number, MinHeap>();
  const ready = [...runs.keys()];
  let complete = true;
  while (ready.length > 0) {
    const client = ready.pop() as number;
    const run = runs.get(client) as Array<Y.Item | Y.GC | Y.Skip>;
    let i = next.get(client) ?? 0;
    for (; i < run.length; i++) {
      const struct = run[i] as Y.Item | Y.GC | Y.Skip;
      if (struct instanceof Y.Skip) continue;
      // Only this run moves its own client's clock: a gap before it never closes.
      if (struct.id.clock > clockOf(client)) break;
      const missing = struct instanceof Y.Item ? missingOrigin(struct, clockOf) : null;
      if (missing !== null) {
        let heap = waiting.get(missing.client);
        if (heap === undefined) waiting.set(missing.client, (heap = new MinHeap()));
        heap.push(missing.clock, client);
        break;
      }
      const end = struct.id.clock + struct.length;
      if (end > clockOf(client)) {
        advanced.set(client, end);
        const heap = waiting.get(client);
        while (heap !== undefined && heap.size > 0 && (heap.peek() as number) < end) ready.push(heap.pop() as number);
      }
    }
    next.set(client, i);
  }
  for (const [client, run] of runs) {
    if (run.slice(next.get(client) ?? 0).some((s) => !(s instanceof Y.Skip))) complete = false;
  }
  for (const [client, deletes] of update.ds.clients) {
    for (const d of deletes) if (d.clock + d.len > clockOf(client)) complete = false;
  }
  return { complete, advanced };
}

/** Moves `state` forward by what integrateIntoState reported as `advanced`. */
export function advanceState(state: StateVector, advanced: ReadonlyMap<number, number>): void {
  for (const [client, clock] of advanced) if (clock > (state.get(client) ?? 0)) state.set(client, clock);
}

function missingOrigin(item: Y.Item, clockOf: (client: number) => number): Y.ID | null {
  for (const ref of [item.origin, item.rightOrigin]) {
    if (ref !== null && ref.clock >= clockOf(ref.client)) return ref;
  }
  return null;
}

/** The state vector of a full state (an update that starts every client at clock 0), cheaply. */
export function stateVectorOfState(state: Uint8Array): StateVector {
  return Y.decodeStateVector(Y.encodeStateVectorFromUpdate(state));
}

/** A binary min-heap of (clock, client) pairs, ordered by clock. */
class MinHeap {
  private readonly clocks: number[] = [];
  private readonly clients: number[] = [];

  get size(): number {
    return this.clocks.length;
  }

  peek(): number | undefined {
    return this.clocks[0];
  }

  push(clock: number, client: number): void {
    this.clocks.push(clock);
    this.clients.push(client);
    let i = this.clocks.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.clocks[parent] as number) <= clock) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the smallest clock; returns its client. */
  pop(): number | undefined {
    const top = this.clients[0];
    const lastClock = this.clocks.pop() as number;
    const lastClient = this.clients.pop() as number;
    if (this.clocks.length > 0) {
      this.clocks[0] = lastClock;
      this.clients[0] = lastClient;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.clocks.length && (this.clocks[l] as number) < (this.clocks[m] as number)) m = l;
        if (r < this.clocks.length && (this.clocks[r] as number) < (this.clocks[m] as number)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.clocks[a], this.clocks[b]] = [this.clocks[b] as number, this.clocks[a] as number];
    [this.clients[a], this.clients[b]] = [this.clients[b] as number, this.clients[a] as number];
  }
}
