import type { SessionStatus } from './session-events.js';
import { TandemError } from './tandem-error.js';

/** The session state a status is computed from, read each time it is needed. */
export interface StatusInputs {
  isConnected(): boolean;
  /** The join was answered (and no later one is needed yet). */
  isJoined(): boolean;
  /** After leave() the status stays what it was. */
  isClosed(): boolean;
  /** Some edit or file operation awaits its ack, is queued or replayed, or a file is unconfirmed. */
  hasUnconfirmed(): boolean;
  /** An edit was refused for good and the user has not dismissed it. */
  hasRefusals(): boolean;
}

/**
 * How far a session's changes are saved (protocol §8): the version the database must reach
 * (the highest version the server gave this client's changes) against the highest version the
 * database is known to hold; the `SessionStatus` computed from that and the session's state;
 * and waits on that status.
 */
export class SaveTracker {
  /** The version the database must reach before everything acknowledged is saved. */
  private requiredVersion = 0;
  /** The highest version required since the current (re)join was sent (see restart). */
  private requiredSinceJoin = 0;
  private savedVersion: number;
  private current: SessionStatus = 'connecting';
  private readonly watchers = new Set<() => void>();

  constructor(
    /** The join's `shard.lastSyncTimestamp`. */
    savedVersion: number,
    private readonly inputs: StatusInputs,
    private readonly onStatus: (status: SessionStatus) => void,
  ) {
    this.savedVersion = savedVersion;
  }

  /** The status last announced. */
  get status(): SessionStatus {
    return this.current;
  }

  /** The database holds every version up to this one. */
  get saved(): number {
    return this.savedVersion;
  }

  /** A change of this client was stored with `version`: not saved before the database holds it. */
  require(version: number): void {
    this.requiredVersion = Math.max(this.requiredVersion, version);
    this.requiredSinceJoin = Math.max(this.requiredSinceJoin, version);
  }

  /** A (re)join is being sent: acks from now on may be of the clock run its answer names. */
  joining(): void {
    this.requiredSinceJoin = 0;
  }

  /** `shard:saved` or a join said the database holds everything up to `version`. */
  markSaved(version: number): void {
    this.savedVersion = Math.max(this.savedVersion, version);
  }

  /**
   * The shard clock restarted at `version` (Redis lost the shard and it was reloaded from the
   * database): versions from before are meaningless now. Except those acknowledged while the
   * join was on its way: an edit sent before the reload was noticed may be stored in the new run
   * after the join read its `version`, and acknowledged before the join is. Its version counts;
   * an older run's version among them is below the new run's (a new run starts above every
   * version of a lost one, protocol §8), so it changes nothing.
   */
  restart(version: number, savedVersion: number): void {
    this.requiredVersion = Math.max(version, this.requiredSinceJoin);
    this.savedVersion = savedVersion;
  }

  compute(): SessionStatus {
    if (!this.inputs.isConnected()) return 'offline';
    if (!this.inputs.isJoined()) return 'connecting';
    if (this.inputs.hasUnconfirmed()) return 'syncing';
    if (this.inputs.hasRefusals()) return 'live';
    return this.savedVersion >= this.requiredVersion ? 'saved' : 'live';
  }

  /** Recomputes the status (announcing a change) and re-checks every pending wait. */
  update(): void {
    const status = this.inputs.isClosed() ? this.current : this.compute();
    if (status !== this.current) {
      this.current = status;
      this.onStatus(status);
    }
    for (const check of [...this.watchers]) check();
  }

  /** Resolves once `predicate` holds, checked now and after every update(). */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new TandemError({ code: 'UNAVAILABLE', message: `timed out waiting for ${what}` }));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }
}
