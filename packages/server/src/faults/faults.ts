/** Where a crash after a store can be asked for (see FaultPlan.crashAfterStore). */
export type FaultStoreKind = 'edit' | 'tree' | 'tree-broadcast';

/** What a test asks the server to do wrong (POST /__test/faults, or `Faults.set` in process). */
export type FaultPlan = {
  /**
   * Die (SIGKILL, no cleanup) right after the n-th store of this kind from now — an edit or a
   * tree operation written to Redis — and before it is broadcast to the room or acknowledged:
   * the window in which an instance crash leaves a stored change nobody was told about.
   * `tree-broadcast`: a tree operation stored and broadcast, before its tree is written to the
   * database and acknowledged (shards/tree-write-through.ts).
   */
  crashAfterStore?: { kind: FaultStoreKind; nth: number };
  /** Process these events as usual but send no ack until this many ms from now (the client times out). */
  dropAcks?: { forMs: number; events?: string[] };
  /**
   * Hold the next edit this instance checks, before its dependency check and store, for good:
   * the instance is meant to be killed while it waits (edits of other senders go on meanwhile).
   * In process, holdNextEdit() also gives the release.
   */
  holdNextEdit?: true;
};

/**
 * Test-only fault injection at the points where a crash or a lost message breaks a promise
 * (stored but not broadcast, stored but not acknowledged). Built only when TANDEM_TEST_FAULTS is
 * set; production code holds `undefined` and every call site is a no-op.
 */
export class Faults {
  private crash: { kind: FaultStoreKind; left: number } | undefined;
  private dropUntil = 0;
  private dropEvents: ReadonlySet<string> | undefined;
  private restoreHook: (() => Promise<void>) | undefined;
  private editHold: Promise<void> | undefined;
  private releaseHold: (() => void) | undefined;
  private treeNoticeHold: Promise<void> | undefined;
  /** Whether an edit is waiting in holdNextEdit's hold now. */
  holdingEdit = false;

  /** `die` is what a crash does; a real SIGKILL of this process unless a test passes its own. */
  constructor(private readonly die: () => void = () => process.kill(process.pid, 'SIGKILL')) {}

  set(plan: FaultPlan): void {
    // A new plan lets an edit held by the previous one go.
    this.releaseHold?.();
    this.editHold = undefined;
    this.crash =
      plan.crashAfterStore === undefined ? undefined : { ...plan.crashAfterStore, left: plan.crashAfterStore.nth };
    this.dropUntil = plan.dropAcks === undefined ? 0 : Date.now() + plan.dropAcks.forMs;
    this.dropEvents = plan.dropAcks?.events === undefined ? undefined : new Set(plan.dropAcks.events);
    if (plan.holdNextEdit === true) this.holdNextEdit();
  }

  /** Called after a change is in Redis and before anyone is told about it (`tree-broadcast`: before the database is). */
  afterStore(kind: FaultStoreKind): void {
    if (this.crash === undefined || this.crash.kind !== kind) return;
    this.crash.left--;
    if (this.crash.left <= 0) {
      this.crash = undefined;
      this.die();
    }
  }

  /**
   * In process only: runs `hook` once, inside the next restore, after its pre-restore checkpoint
   * is recorded and before it reads the live state it changes (a test stores an edit there).
   */
  duringNextRestore(hook: () => Promise<void>): void {
    this.restoreHook = hook;
  }

  /** Called by a restore between its pre-restore checkpoint and its first change. */
  async inRestoreWindow(): Promise<void> {
    const hook = this.restoreHook;
    this.restoreHook = undefined;
    await hook?.();
  }

  /**
   * In process only: holds the next edit this instance checks and stores (it waits before its
   * dependency check) until the returned function is called.
   */
  holdNextEdit(): () => void {
    let release = (): void => undefined;
    this.editHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.releaseHold = release;
    return release;
  }

  /** Called by an edit before its dependency check and store. */
  async beforeEditStore(): Promise<void> {
    const hold = this.editHold;
    if (hold === undefined) return;
    this.editHold = undefined;
    this.holdingEdit = true;
    try {
      await hold;
    } finally {
      this.holdingEdit = false;
    }
  }

  /**
   * In process only: the next `tree:changed` this instance broadcasts is held (the operation
   * itself goes on: stored, written through, acknowledged) until the returned function is called,
   * as a notice from another instance may travel slower than later ones.
   */
  holdNextTreeNotice(): () => void {
    let release = (): void => undefined;
    this.treeNoticeHold = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  /** Called by a `tree:changed` broadcast: what it waits for first, if anything. */
  takeTreeNoticeHold(): Promise<void> | undefined {
    const hold = this.treeNoticeHold;
    this.treeNoticeHold = undefined;
    return hold;
  }

  /** True when the ack of this event must be swallowed. */
  dropsAck(event: string): boolean {
    if (Date.now() >= this.dropUntil) return false;
    return this.dropEvents === undefined || this.dropEvents.has(event);
  }
}
