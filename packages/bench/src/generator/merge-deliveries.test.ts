import { describe, expect, it } from 'vitest';
import { itemKey, type DeliveryRecords } from './delivery-log.js';
import { mergeDeliveries } from './merge-deliveries.js';

const f = (xs: number[]) => Float64Array.from(xs);

function part(sent: Array<[number, number, number, number]>, received: Array<[number, number]>): DeliveryRecords {
  return {
    sent: {
      keys: f(sent.map((s) => s[0])),
      times: f(sent.map((s) => s[1])),
      expected: f(sent.map((s) => s[2])),
      measured: f(sent.map((s) => s[3])),
    },
    received: { keys: f(received.map((r) => r[0])), times: f(received.map((r) => r[1])) },
  };
}

describe('mergeDeliveries', () => {
  it('matches deliveries to sends made in another process, and counts lost, duplicate and unmatched ones', () => {
    const a = itemKey(0x4000_0000, 5);
    const b = itemKey(0x4000_0001, 9);
    const warm = itemKey(0x4000_0001, 1);
    // Process 0 sent a (2 receivers) and the warm-up item; process 1 sent b (2 receivers).
    const p0 = part(
      [
        [a, 100, 2, 1],
        [warm, 50, 2, 0],
      ],
      [
        [b, 203],
        [warm, 51],
      ],
    );
    const p1 = part(
      [[b, 200, 2, 1]],
      [
        [a, 101],
        [a, 104],
        [a, 105], // a third copy: a duplicate
        [itemKey(7, 1), 110], // nobody sent it
      ],
    );
    const m = mergeDeliveries([p0, p1]);
    expect(m.sentMeasured).toBe(2);
    expect(m.expectedMeasured).toBe(4);
    expect(m.deliveredMeasured).toBe(3); // b reached only one of its two receivers: one lost
    expect(m.duplicates).toBe(1);
    expect(m.unmatched).toBe(1);
    expect(m.negative).toBe(0);
    expect(m.latency.summary()).toMatchObject({ count: 3, maxMs: 4 });
  });

  it('counts a delivery timed before its send (clocks that disagree)', () => {
    const k = itemKey(0x4000_0000, 0);
    expect(mergeDeliveries([part([[k, 100, 1, 1]], [[k, 99]])]).negative).toBe(1);
  });
});
