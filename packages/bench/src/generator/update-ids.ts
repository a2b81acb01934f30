/**
 * The item ids of a Yjs update (v1 encoding), read without building structs: for each struct,
 * its client, first clock and length. The generator needs nothing else from an update it
 * receives to match it to its edit (the update itself is applied to the client's Y.Doc later,
 * in a batch). `Y.decodeUpdate` builds an Item and its content object for every struct and a
 * DeleteSet; this reads varints in place and allocates nothing for the generator's own updates
 * (ASCII strings).
 */
const BIT8 = 0b1000_0000;
const BIT7 = 0b0100_0000;
const BIT6 = 0b0010_0000;
const BITS5 = 0b1_1111;

/** Called per struct: `client`, first `clock`, `length` (in clocks). */
export type StructVisitor = (client: number, clock: number, length: number) => void;

/** A varint reader over one update, reused across updates. */
export class UpdateIdReader {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;

  /**
   * Visits every struct of `update`. Returns false (having visited nothing) when the update
   * holds content this reader does not size (anything but strings, deletions, GC and skips):
   * the caller then decodes it fully.
   */
  read(update: Uint8Array, visit: StructVisitor): boolean {
    this.buf = update;
    this.pos = 0;
    // Check first, visit after: an unknown content type must leave nothing half-visited.
    if (!this.walk(undefined)) return false;
    this.pos = 0;
    this.walk(visit);
    return true;
  }

  private walk(visit: StructVisitor | undefined): boolean {
    const groups = this.varUint();
    for (let g = 0; g < groups; g++) {
      const structs = this.varUint();
      const client = this.varUint();
      let clock = this.varUint();
      for (let s = 0; s < structs; s++) {
        const info = this.buf[this.pos++]!;
        const ref = info & BITS5;
        let length: number;
        if (ref === 0 || ref === 10) {
          // GC or Skip: a length.
          length = this.varUint();
        } else {
          if ((info & BIT8) !== 0) this.skipId();
          if ((info & BIT7) !== 0) this.skipId();
          if ((info & (BIT8 | BIT7)) === 0) {
            // Parent: a root type's name (1) or an item id (0); then the map key, if any.
            if (this.varUint() === 1) this.skipString();
            else this.skipId();
            if ((info & BIT6) !== 0) this.skipString();
          }
          if (ref === 4) length = this.stringLength();
          else if (ref === 1) length = this.varUint();
          else return false;
        }
        if (visit !== undefined && ref !== 10) visit(client, clock, length);
        clock += length;
      }
    }
    if (this.pos > this.buf.length) throw new Error('truncated Yjs update');
    return true;
  }

  private varUint(): number {
    let num = 0;
    let mult = 1;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated Yjs update');
      num += (b & 0x7f) * mult;
      if (b < 0x80) return num;
      mult *= 128;
    }
  }

  private skipId(): void {
    this.varUint();
    this.varUint();
  }

  private skipString(): void {
    const bytes = this.varUint(); // before reading pos: `pos += varUint()` would lose the varint
    this.pos += bytes;
  }

  /** A string's length in UTF-16 code units (Yjs counts a ContentString's clocks so). */
  private stringLength(): number {
    const bytes = this.varUint();
    const start = this.pos;
    this.pos += bytes;
    for (let i = start; i < this.pos; i++) {
      if (this.buf[i]! >= 0x80) return new TextDecoder().decode(this.buf.subarray(start, this.pos)).length;
    }
    return bytes;
  }
}
