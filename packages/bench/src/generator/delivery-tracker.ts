import * as Y from 'yjs';
import { Samples } from '../stats.js';

type Sent = { t: number; measured: boolean; expected: number; delivered: number };

/**
 * Matches every delivered update to the moment its edit was made, by Yjs item id
 * (`client:clock`): senders record the clock of each insert, receivers decode the structs of
 * each update they get. Counts deliveries per item, so lost (and duplicate) deliveries show.
 */
export class DeliveryTracker {
  private readonly sent = new Map<number, Sent>();
  readonly latency = new Samples();
  measuring = false;
  sentMeasured = 0;
  deliveredMeasured = 0;
  expectedMeasured = 0;
  duplicates = 0;
  outstanding = 0;

  /** An item (clientId, clock) was sent now; `receivers` clients should receive it. */
  sentItem(clientId: number, clock: number, receivers: number): void {
    this.sent.set(key(clientId, clock), {
      t: performance.now(),
      measured: this.measuring,
      expected: receivers,
      delivered: 0,
    });
    this.outstanding += receivers;
    if (this.measuring) {
      this.sentMeasured++;
      this.expectedMeasured += receivers;
    }
  }

  /** `update` reached a client whose own Yjs client id is `self`. Returns false when it only holds own items. */
  delivered(update: Uint8Array, self: number): boolean {
    const now = performance.now();
    let foreign = false;
    const { structs } = Y.decodeUpdate(update);
    for (const s of structs) {
      if (s.id.client === self) continue;
      foreign = true;
      for (let c = s.id.clock; c < s.id.clock + s.length; c++) {
        const rec = this.sent.get(key(s.id.client, c));
        if (rec === undefined) continue;
        if (rec.delivered >= rec.expected) {
          this.duplicates++;
          continue;
        }
        rec.delivered++;
        this.outstanding--;
        if (rec.measured) {
          this.deliveredMeasured++;
          this.latency.add(now - rec.t);
        }
      }
    }
    return foreign;
  }
}

/** clientId is a uint32 and clocks stay far below 2^21 in a run, so the key fits a double exactly. */
function key(clientId: number, clock: number): number {
  return clientId * 2_097_152 + clock;
}
