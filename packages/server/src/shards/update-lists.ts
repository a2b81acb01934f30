/**
 * Lists of Yjs updates packed into three buffers for a worker thread. Posting a backlogged shard's
 * updates as they are (200 files × 150 updates: 30,000 Uint8Arrays) made the structured clone
 * block the event loop for 33–35 ms; packed, the event loop copies the bytes once and the buffers
 * are transferred, not cloned.
 */
export type PackedUpdateLists = {
  /** Every update's bytes, one after another. */
  bytes: Uint8Array;
  /** The byte length of each update, in order. */
  sizes: Uint32Array;
  /** How many updates each list has, in order. */
  counts: Uint32Array;
};

export function packUpdateLists(lists: readonly (readonly Uint8Array[])[]): PackedUpdateLists {
  let total = 0;
  let updates = 0;
  for (const list of lists) {
    updates += list.length;
    for (const update of list) total += update.byteLength;
  }
  const bytes = new Uint8Array(total);
  const sizes = new Uint32Array(updates);
  const counts = new Uint32Array(lists.length);
  let at = 0;
  let n = 0;
  lists.forEach((list, i) => {
    counts[i] = list.length;
    for (const update of list) {
      bytes.set(update, at);
      at += update.byteLength;
      sizes[n++] = update.byteLength;
    }
  });
  return { bytes, sizes, counts };
}

/** The lists again, as views of the packed bytes (no copy). */
export function unpackUpdateLists(packed: PackedUpdateLists): Uint8Array[][] {
  const lists: Uint8Array[][] = [];
  let at = 0;
  let n = 0;
  for (const count of packed.counts) {
    const list: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const size = packed.sizes[n++]!;
      list.push(packed.bytes.subarray(at, at + size));
      at += size;
    }
    lists.push(list);
  }
  return lists;
}

/** The buffers to transfer with a packed message (they are unusable here afterwards). */
export function transferListOf(packed: PackedUpdateLists): ArrayBuffer[] {
  return [packed.bytes.buffer, packed.sizes.buffer, packed.counts.buffer] as ArrayBuffer[];
}
