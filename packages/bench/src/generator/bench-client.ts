import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import type { Transport } from './transports.js';
import { TRACKED_CLIENT_BASE, type DeliveryLog } from './delivery-log.js';

const TEXT = 'content';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
/** The Yjs client id of seed text: not a tracked edit. */
const SEED_CLIENT_ID = 0x7fff_fff0;

/**
 * A simulated editor: a Y.Doc of the shared file, kept up to date lazily (remote updates are
 * queued and applied in one transaction just before the next local edit, as an editor batches
 * per frame), so that a room of 50 typists costs the generator little more than decoding ids.
 */
export class BenchClient {
  readonly doc = new Y.Doc({ gc: true });
  private readonly text = this.doc.getText(TEXT);
  private pending: Uint8Array[] = [];
  private awarenessClock = 0;
  /** Its awareness client id, as an editor would use its Y.Doc's client id. */
  readonly awarenessId: number;

  constructor(
    readonly transport: Transport,
    private readonly log: DeliveryLog,
    /** This client's number in the run (over all generator processes): its Yjs client id follows from it. */
    index: number,
    /** Other clients in the room (who should receive each edit). */
    private readonly peers: number,
    private readonly onAwareness?: (update: Uint8Array, self: BenchClient) => void,
  ) {
    this.doc.clientID = TRACKED_CLIENT_BASE + index;
    this.awarenessId = this.doc.clientID;
    transport.onUpdate = (update) => {
      if (this.log.received(update, this.doc.clientID)) this.pending.push(update);
    };
    transport.onAwareness = (update) => this.onAwareness?.(update, this);
  }

  async open(): Promise<void> {
    Y.applyUpdate(this.doc, await this.transport.open());
  }

  /** Applies queued remote updates. */
  flush(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    this.doc.transact(() => {
      for (const u of pending) Y.applyUpdate(this.doc, u);
    });
  }

  /** Inserts one character at a random position and sends the update. */
  edit(): void {
    this.flush();
    const clock = Y.getState(this.doc.store, this.doc.clientID);
    let update: Uint8Array | undefined;
    const capture = (u: Uint8Array) => {
      update = u;
    };
    this.doc.once('update', capture);
    this.text.insert(Math.floor(Math.random() * (this.text.length + 1)), ALPHABET[Math.floor(Math.random() * 26)]!);
    if (update === undefined) return;
    this.log.sentItem(this.doc.clientID, clock, this.peers);
    this.transport.send(update);
  }

  /** Inserts a text (a seed) without tracking: under another client id, so receivers skip it. */
  insertUntracked(text: string): void {
    let update: Uint8Array | undefined;
    this.doc.once('update', (u: Uint8Array) => {
      update = u;
    });
    const own = this.doc.clientID;
    this.doc.clientID = SEED_CLIENT_ID;
    this.text.insert(0, text);
    this.doc.clientID = own;
    if (update !== undefined) this.transport.send(update);
  }

  /** Sends a presence update: our cursor moved to a random position. Returns its clock. */
  moveCursor(): number {
    this.awarenessClock++;
    const state = JSON.stringify({
      user: { id: `bench-${this.awarenessId}`, name: 'bench', color: '#30bced' },
      cursor: { anchor: Math.floor(Math.random() * 1000), head: Math.floor(Math.random() * 1000) },
    });
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarUint(encoder, this.awarenessId);
    encoding.writeVarUint(encoder, this.awarenessClock);
    encoding.writeVarString(encoder, state);
    this.transport.sendAwareness(encoding.toUint8Array(encoder));
    return this.awarenessClock;
  }

  textValue(): string {
    this.flush();
    return this.text.toString();
  }
}
