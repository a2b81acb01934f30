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

  /**
   * Inserts one character at a random position and sends the update. The position is in or right
   * after a random item of the text, found in the struct store: an index (`text.insert(i, …)`) would
   * walk the text from its start, because every batch of remote updates clears Yjs's search
   * markers — O(items) per keystroke, a full core at 1×50×50ms once the text holds 15,000 items.
   * The update is the one `insert` makes at that index (origin = the item's last id, right origin
   * = its right neighbour): the servers get the same work.
   */
  edit(): void {
    this.flush();
    const clock = Y.getState(this.doc.store, this.doc.clientID);
    let update: Uint8Array | undefined;
    const capture = (u: Uint8Array) => {
      update = u;
    };
    this.doc.once('update', capture);
    const letter = ALPHABET[Math.floor(Math.random() * 26)]!;
    const at = this.randomItem();
    if (at === null) {
      this.text.insert(Math.floor(Math.random() * (this.text.length + 1)), letter);
    } else {
      this.doc.transact((transaction) => {
        // Inside the item (split it there, as an index would) or right after it.
        const offset = 1 + Math.floor(Math.random() * at.length);
        const left =
          offset < at.length
            ? Y.getItemCleanStart(transaction, Y.createID(at.id.client, at.id.clock + offset)).left!
            : at;
        const right = left.right;
        new Y.Item(
          Y.createID(this.doc.clientID, clock),
          left,
          left.lastId,
          right,
          right === null ? null : right.id,
          this.text,
          null,
          new Y.ContentString(letter),
        ).integrate(transaction, 0);
      });
    }
    if (update === undefined) return;
    this.log.sentItem(this.doc.clientID, clock, this.peers);
    this.transport.send(update);
  }

  /** A random live item of the text (null when a few draws found none: then an index is used). */
  private randomItem(): Y.Item | null {
    const lists = [...this.doc.store.clients.values()];
    for (let attempt = 0; attempt < 8; attempt++) {
      const structs = lists[Math.floor(Math.random() * lists.length)];
      if (structs === undefined || structs.length === 0) continue;
      const s = structs[Math.floor(Math.random() * structs.length)];
      if (s instanceof Y.Item && !s.deleted && s.parent === this.text && s.content instanceof Y.ContentString) return s;
    }
    return null;
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
