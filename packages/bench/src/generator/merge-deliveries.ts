import { Samples } from '../stats.js';
import type { DeliveryRecords } from './delivery-log.js';

export type MergedDeliveries = {
  sentMeasured: number;
  expectedMeasured: number;
  deliveredMeasured: number;
  duplicates: number;
  /** Received tracked items that no process recorded sending (must be 0). */
  unmatched: number;
  /** Deliveries timed before their send (must be 0: the processes' clocks disagree). */
  negative: number;
  latency: Samples;
};

/**
 * Matches every process's received items to the sends of all processes (a room may span
 * processes; every time is on the shared clock). An item counts as delivered to as many
 * receivers as it expects; more are duplicates. Latency is over the items sent in the window.
 */
export function mergeDeliveries(parts: readonly DeliveryRecords[]): MergedDeliveries {
  const index = new Map<number, number>();
  const sentTimes: number[] = [];
  const expected: number[] = [];
  const measured: boolean[] = [];
  const delivered: number[] = [];
  let sentMeasured = 0;
  let expectedMeasured = 0;
  for (const { sent } of parts) {
    for (let i = 0; i < sent.keys.length; i++) {
      index.set(sent.keys[i]!, sentTimes.length);
      sentTimes.push(sent.times[i]!);
      expected.push(sent.expected[i]!);
      measured.push(sent.measured[i] === 1);
      delivered.push(0);
      if (sent.measured[i] === 1) {
        sentMeasured++;
        expectedMeasured += sent.expected[i]!;
      }
    }
  }
  const latency = new Samples();
  let deliveredMeasured = 0;
  let duplicates = 0;
  let unmatched = 0;
  let negative = 0;
  for (const { received } of parts) {
    for (let i = 0; i < received.keys.length; i++) {
      const at = index.get(received.keys[i]!);
      if (at === undefined) {
        unmatched++;
        continue;
      }
      if (delivered[at]! >= expected[at]!) {
        duplicates++;
        continue;
      }
      delivered[at] = delivered[at]! + 1;
      if (!measured[at]) continue;
      deliveredMeasured++;
      const ms = received.times[i]! - sentTimes[at]!;
      if (ms < 0) negative++;
      latency.add(ms);
    }
  }
  return { sentMeasured, expectedMeasured, deliveredMeasured, duplicates, unmatched, negative, latency };
}
