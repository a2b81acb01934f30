import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { packUpdateLists, transferListOf, unpackUpdateLists } from './update-lists.js';

describe('packed update lists', () => {
  it('give back every list in order, empty lists and empty updates included', () => {
    const lists = [
      [new Uint8Array([1, 2, 3]), new Uint8Array([4])],
      [],
      [new Uint8Array(0), new Uint8Array([5, 6])],
      [new Uint8Array(70_000).fill(7)],
    ];
    const packed = packUpdateLists(lists);
    expect(packed.bytes.byteLength).toBe(3 + 1 + 2 + 70_000);
    expect(Array.from(packed.counts)).toEqual([2, 0, 2, 1]);
    expect(unpackUpdateLists(packed).map((list) => list.map((u) => Array.from(u.slice(0, 4))))).toEqual([
      [[1, 2, 3], [4]],
      [],
      [[], [5, 6]],
      [[7, 7, 7, 7]],
    ]);
    expect(unpackUpdateLists(packed)[3]![0]!.byteLength).toBe(70_000);
  });

  it('survive a transfer to another thread as three buffers', async () => {
    const packed = packUpdateLists([[new Uint8Array([9, 8]), new Uint8Array([7])]]);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<typeof packed>((resolve) => port2.once('message', resolve));
    port1.postMessage(packed, transferListOf(packed));
    const copy = await received;
    port1.close();
    // Transferred: the sender's buffers are detached.
    expect(packed.bytes.byteLength).toBe(0);
    expect(unpackUpdateLists(copy).map((list) => list.map((u) => Array.from(u)))).toEqual([[[9, 8], [7]]]);
  });
});
