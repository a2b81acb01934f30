import { VersionTracker } from './version-tracker.js';

/** What the gap watch needs from the session. */
export interface GapWatchHooks {
  isClosed(): boolean;
  isConnected(): boolean;
  /** An own edit or file operation awaits its ack, or a rejoin runs: their answers carry versions. */
  isAwaitingAnswers(): boolean;
  /** A gap stayed open: rejoin. */
  rejoin(): void;
}

/**
 * Missed notices (protocol §8 "Gaps"): the shard-clock versions seen, and a timer that rejoins
 * when one stays missing. A gap still open after `waitMs` means a notice was lost (an instance
 * died between storing a change and broadcasting it); the rejoin re-reads the tree and runs every
 * handshake. While own changes are unacknowledged the wait goes on: their acks carry versions.
 */
export class GapWatch {
  private readonly versions: VersionTracker;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The join's version. */
    version: number,
    private readonly waitMs: number,
    private readonly hooks: GapWatchHooks,
  ) {
    this.versions = new VersionTracker(version);
  }

  /** Every version up to this one was seen. */
  get upTo(): number {
    return this.versions.upTo;
  }

  /** Records a version seen, without checking for a gap yet (the caller does, later). */
  record(version: number): void {
    this.versions.see(version);
  }

  /** A version seen: records it and checks for a gap. */
  see(version: number): void {
    this.versions.see(version);
    this.check();
  }

  /** The server says the clock reached `version` (`presence:requested`). */
  expect(version: number): void {
    this.versions.expect(version);
    this.check();
  }

  /** A join returned the state at `version` (see VersionTracker.reset). */
  reset(version: number): void {
    this.versions.reset(version);
  }

  /** Starts the wait if a gap is open (and none runs), stops it if none is. */
  check(): void {
    if (this.hooks.isClosed() || !this.versions.hasGap()) {
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.hooks.isClosed() || !this.versions.hasGap() || !this.hooks.isConnected()) return;
      if (this.hooks.isAwaitingAnswers()) {
        this.check();
        return;
      }
      this.hooks.rejoin();
    }, this.waitMs);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
