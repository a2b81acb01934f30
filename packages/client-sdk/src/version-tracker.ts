/**
 * Which shard-clock versions a session has seen. Every change to a shard takes the next version
 * of one clock, and each version reaches every member once (as `file:edited`, `tree:changed` or
 * the ack of its own `file:edit`), in any order. `upTo` is the highest V such that every version
 * ≤ V was seen; a version missing below a seen one, or a `presence:requested` naming a version
 * above V, is a gap: a notice that may have been lost.
 */
export class VersionTracker {
  private contiguous: number;
  private readonly above = new Set<number>();
  private expected = 0;

  constructor(start: number) {
    this.contiguous = start;
  }

  /** Every version ≤ this was seen (or was in the state a join returned). */
  get upTo(): number {
    return this.contiguous;
  }

  /** A version arrived (a notice, or an ack of this client's own change). */
  see(version: number): void {
    if (version <= this.contiguous) return;
    this.above.add(version);
    this.advance();
  }

  /** The server says the clock reached `version` (presence:requested): every version up to it must arrive. */
  expect(version: number): void {
    this.expected = Math.max(this.expected, version);
  }

  /** True while some version below a seen or expected one has not arrived. */
  hasGap(): boolean {
    return this.above.size > 0 || this.expected > this.contiguous;
  }

  /**
   * A join returned the state at `version`: everything up to it is known. Versions seen above it
   * are kept. When the clock went back (Redis lost the shard and it was reloaded), what was seen
   * belongs to the old clock and is dropped.
   */
  reset(version: number): void {
    if (version < this.contiguous) {
      this.above.clear();
      this.expected = 0;
    } else {
      for (const v of this.above) if (v <= version) this.above.delete(v);
    }
    this.contiguous = version;
    this.advance();
  }

  private advance(): void {
    while (this.above.delete(this.contiguous + 1)) this.contiguous++;
  }
}
