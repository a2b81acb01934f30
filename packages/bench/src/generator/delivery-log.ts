import * as Y from 'yjs';
import { sharedNow } from './clock.js';
import { UpdateIdReader } from './update-ids.js';

/**
 * Yjs client ids of the generator's clients: `TRACKED_CLIENT_BASE + n` for client n of the run
 * (over every generator process), so a receiver knows which items are tracked edits without
 * asking the process that sent them. Seeds and servers' template text use other ids.
 */
export const TRACKED_CLIENT_BASE = 0x4000_0000;

/** clientId is a uint32 and clocks stay far below 2^21 in a run, so the key fits a double exactly. */
export function itemKey(clientId: number, clock: number): number {
  return clientId * 2_097_152 + clock;
}

/** A growable column of doubles. */
export class Column {
  private data: Float64Array;
  length = 0;

  constructor(capacity = 4096) {
    this.data = new Float64Array(capacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  /** A copy of the values (what goes over IPC). */
  values(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/** What one generator process sent and received; matched with the other processes' at the end. */
export type DeliveryRecords = {
  /** Per tracked edit: item key, send time (shared clock, ms), receivers expected, sent in the window (1/0). */
  sent: { keys: Float64Array; times: Float64Array; expected: Float64Array; measured: Float64Array };
  /** Per received tracked item: its key and the receive time. */
  received: { keys: Float64Array; times: Float64Array };
};

/**
 * Records, per generator process, every tracked edit it sends (key, time) and every tracked item
 * its clients receive (key, time). It does not match them: a room may span processes, so the
 * orchestrator matches all processes' records after the run (`mergeDeliveries`). A delivery costs
 * reading the update's ids in place and two appends — no decoding of structs, no lookups.
 */
export class DeliveryLog {
  measuring = false;
  private readonly sentKeys = new Column();
  private readonly sentTimes = new Column();
  private readonly sentExpected = new Column();
  private readonly sentMeasured = new Column();
  private readonly receivedKeys = new Column(65_536);
  private readonly receivedTimes = new Column(65_536);
  private readonly reader = new UpdateIdReader();
  /** Deliveries this process's clients expect to see in all (for the drain), and have seen. */
  expectedTotal = 0;
  receivedTotal = 0;
  /** Per-call state of `received` (kept on the instance so the visitor is one bound function). */
  private self = 0;
  private now = 0;
  private foreign = false;
  private readonly visit = (client: number, clock: number, length: number): void => {
    if (client === this.self) return;
    this.foreign = true;
    if (client < TRACKED_CLIENT_BASE || client >= this.trackedEnd) return;
    for (let c = clock; c < clock + length; c++) {
      this.receivedKeys.push(itemKey(client, c));
      this.receivedTimes.push(this.now);
      this.receivedTotal++;
    }
  };

  private readonly trackedEnd: number;

  /** `clients`: how many generator clients the whole run has (ids TRACKED_CLIENT_BASE + 0 … clients-1). */
  constructor(clients: number) {
    this.trackedEnd = TRACKED_CLIENT_BASE + clients;
  }

  /** An item (clientId, clock) was sent now; `receivers` clients should receive it. */
  sentItem(clientId: number, clock: number, receivers: number): void {
    this.sentKeys.push(itemKey(clientId, clock));
    this.sentTimes.push(sharedNow());
    this.sentExpected.push(receivers);
    this.sentMeasured.push(this.measuring ? 1 : 0);
    this.expectedTotal += receivers;
  }

  /** `update` reached a client whose own Yjs client id is `self`. Returns false when it only holds own items. */
  received(update: Uint8Array, self: number): boolean {
    this.self = self;
    this.now = sharedNow();
    this.foreign = false;
    if (!this.reader.read(update, this.visit)) {
      // Content the reader does not size (never the generator's own edits): decode it fully.
      for (const s of Y.decodeUpdate(update).structs) this.visit(s.id.client, s.id.clock, s.length);
    }
    return this.foreign;
  }

  /** Everything recorded, as arrays (structured-cloned over IPC). */
  records(): DeliveryRecords {
    return {
      sent: {
        keys: this.sentKeys.values(),
        times: this.sentTimes.values(),
        expected: this.sentExpected.values(),
        measured: this.sentMeasured.values(),
      },
      received: { keys: this.receivedKeys.values(), times: this.receivedTimes.values() },
    };
  }
}
