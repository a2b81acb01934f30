import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import type { Config } from '../config/index.js';
import { ScanSummarySchema, type ScanSummary } from '../metrics/index.js';
import type { Logger } from '../logging/index.js';
import { lastScanKey, schedulerLockKey, syncStartsKey } from '../redis/index.js';
import type { DirtyMarks, InstanceDeath, Membership, SyncStore } from '../shard-cache/index.js';
import type { SyncQueue } from './sync-queue.js';
import type { SyncJobData } from './sync-job-data.js';
import { SyncPacer, SyncPacerState } from './sync-pacer.js';

/**
 * The cluster's one periodic scheduler (a leader lock per tick): enqueues a sync for every shard
 * with changes, and a flush-and-evict for every shard nobody has been in for the grace period —
 * including shards whose members all expired because their instance died.
 *
 * Its work follows activity, not the number of open shards: a tick inspects the shards marked
 * dirty (DirtyMarks) and those nobody is in (empty-since). Every open shard is inspected (a full
 * scan) only when an instance died (its members have all expired by then, and marks it had not
 * sent yet are found), on an instance's first tick as leader, and every `fullScanMs` as a
 * backstop.
 */
export class SyncScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly owner = randomUUID();
  private lastFullScanAt: number | undefined;
  /** Dead instances whose members a failed tick may not have pruned yet: the next tick tries again. */
  private pendingDead: InstanceDeath[] = [];
  /** Starts of the jobs this instance enqueued as leader, paced to the limiter (see SyncPacer). */
  private readonly pacer: SyncPacer;
  lastScan: ScanSummary | undefined;

  constructor(
    private readonly deps: {
      redis: Redis | Cluster;
      sync: SyncStore;
      members: Membership;
      marks: Pick<DirtyMarks, 'list' | 'unmark' | 'markNow'>;
      queue: SyncQueue;
      logger: Logger;
      keyPrefix: string;
      jobs: Config['jobs'];
      evictGraceMs: number;
      /** Longest time between two full scans (inspections of every open shard). */
      fullScanMs: number;
      onScan?: (summary: ScanSummary) => void;
      /** Called when members of a shard expired (their instance died) while others are still in it. */
      onMembersExpired?: (shardId: ShardId) => void;
    },
  ) {
    this.pacer = new SyncPacer({ max: deps.jobs.limitMax, durationMs: deps.jobs.limitDurationMs });
  }

  start(): void {
    const loop = () => {
      if (this.abort.signal.aborted) return;
      this.running = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'sync scheduler tick failed'))
        .finally(() => {
          if (!this.abort.signal.aborted) this.timer = setTimeout(loop, this.deps.jobs.intervalMs);
        });
    };
    this.timer = setTimeout(loop, Math.min(this.deps.jobs.intervalMs, 100));
  }

  /** The last-leave hook: the shard is empty as of now; it is flushed and evicted after the grace period. */
  async noteLastLeave(shardId: ShardId): Promise<void> {
    await this.deps.members.noteEmpty(shardId, Date.now());
  }

  /** One scan; returns what it saw, or null when another instance holds the tick. */
  async tick(): Promise<ScanSummary | null> {
    const lock = schedulerLockKey(this.deps.keyPrefix);
    const got = await this.deps.redis.set(lock, this.owner, 'PX', Math.max(50, this.deps.jobs.intervalMs - 10), 'NX');
    if (got !== 'OK') return null;
    const now = Date.now();
    const died = await this.deps.members.expireDeadInstances();
    if (died.length > 0) {
      const instances = died.map((d) => d.instanceId);
      this.deps.logger.info({ instances }, 'instances died: inspecting every open shard');
    }
    // Their entries are gone from Redis: kept here until an inspection of every shard completed.
    this.pendingDead.push(...died);
    const dead = [...this.pendingDead];
    const full =
      dead.length > 0 || this.lastFullScanAt === undefined || now - this.lastFullScanAt >= this.deps.fullScanMs;
    const [marked, empty] = await Promise.all([this.deps.marks.list(), this.deps.members.emptySince()]);
    let openShards: number;
    const ids = new Set<ShardId>([...marked.keys(), ...empty.keys()]);
    if (full) {
      const open = await this.deps.sync.openShards();
      for (const id of open) ids.add(id);
      openShards = open.length;
      this.lastFullScanAt = now;
    } else {
      openShards = await this.deps.sync.openCount();
    }
    const inspections = await Promise.all(
      [...ids].map(async (id) => [id, await this.deps.sync.inspect(id, dead)] as const),
    );
    if (full) this.pendingDead = this.pendingDead.filter((d) => !dead.includes(d));
    const candidates: Array<{ shardId: ShardId; evict: boolean; firstDirtyAt: number }> = [];
    const clean: Array<readonly [ShardId, number]> = [];
    const unmarked: ShardId[] = [];
    const summary: ScanSummary = {
      openShards,
      dirtyShards: 0,
      dirtyFiles: 0,
      unsyncedUpdates: 0,
      unsyncedBytes: 0,
      oldestDirtyAt: null,
      evictCandidates: 0,
      enqueuedJobs: 0,
    };
    for (const [shardId, s] of inspections) {
      const mark = marked.get(shardId);
      if (mark !== undefined && s.dirtyFiles === 0) clean.push([shardId, mark]);
      // Found by a full scan only (its change's mark was never sent): marked now, so later ticks see it.
      if (mark === undefined && s.dirtyFiles > 0) unmarked.push(shardId);
      if (s.dirtyFiles > 0) {
        summary.dirtyShards++;
        summary.dirtyFiles += s.dirtyFiles;
        summary.unsyncedUpdates += s.unsyncedUpdates;
        summary.unsyncedBytes += s.unsyncedBytes;
        const first = s.firstDirtyAt ?? now;
        summary.oldestDirtyAt = Math.min(summary.oldestDirtyAt ?? first, first);
      }
      if (s.expiredMembers > 0 && s.liveMembers > 0) this.deps.onMembersExpired?.(shardId);
      // An "empty since" mark of a shard that is not loaded has nothing to evict (a leave that
      // raced its deletion, or a join that failed before loading): drop it, or it would stay
      // forever. (Empty marks are read before the inspection: a shard loaded since is loaded here.)
      if (!s.loaded && s.dirtyFiles === 0 && s.liveMembers === 0) {
        if (empty.has(shardId)) await this.deps.members.clearEmpty(shardId);
        continue;
      }
      let evict = false;
      if (s.liveMembers > 0) {
        if (empty.has(shardId)) await this.deps.members.clearEmpty(shardId);
      } else if (!s.locked) {
        const since = empty.get(shardId);
        if (since === undefined) await this.deps.members.noteEmpty(shardId, now);
        else if (now - since >= this.deps.evictGraceMs) evict = true;
      }
      if (evict) summary.evictCandidates++;
      if (s.dirtyFiles > 0 || evict) candidates.push({ shardId, evict, firstDirtyAt: s.firstDirtyAt ?? now });
    }
    // Oldest changes first, so a batch cut by the batch size never starves a shard.
    candidates.sort((a, b) => a.firstDirtyAt - b.firstDirtyAt);
    if (candidates.length > 0) {
      summary.enqueuedJobs = await this.enqueuePaced(candidates.map(({ shardId, evict }) => ({ shardId, evict })));
    }
    // Marks of shards found clean go, unless a change marked them again meanwhile.
    await this.deps.marks.unmark(clean);
    await this.deps.marks.markNow(unmarked);
    this.lastScan = summary;
    await this.deps.redis.set(
      lastScanKey(this.deps.keyPrefix),
      JSON.stringify({ ...summary, at: now }),
      'PX',
      Math.max(10_000, this.deps.jobs.intervalMs * 10),
    );
    this.deps.onScan?.(summary);
    return summary;
  }

  /**
   * One job per partition with candidates, oldest partition first, each started when the pacer
   * allows (BullMQ's `delay`; a full batch is not spaced, see SyncPacer). A partition whose start
   * would come after the next tick waits for that tick (its candidates are found again), so a
   * delayed job never holds its shards for long. A partition that still has a job pending takes
   * no start.
   */
  private async enqueuePaced(shards: SyncJobData['shards']): Promise<number> {
    // The leader may have been another instance: its starts count too.
    const key = syncStartsKey(this.deps.keyPrefix);
    const stored = parsePacerState(await this.deps.redis.get(key));
    if (stored !== null) this.pacer.restore(stored);
    let added = 0;
    for (const { partition, shards: list } of this.deps.queue.partitioned(shards)) {
      const now = Date.now();
      const at = this.pacer.next(now, { spaced: list.length < this.deps.jobs.batchSize });
      if (at - now >= this.deps.jobs.intervalMs) continue;
      if (!(await this.deps.queue.add(partition, list, at - now))) continue;
      this.pacer.commit(at);
      added++;
    }
    if (added > 0) {
      const ttl = this.deps.jobs.limitDurationMs + this.deps.jobs.intervalMs;
      await this.deps.redis.set(key, JSON.stringify(this.pacer.state()), 'PX', ttl);
    }
    return added;
  }

  /** The latest scan of any instance (the leader changes), or null when none is recent. */
  async latestScan(): Promise<ScanSummary | null> {
    const raw = await this.deps.redis.get(lastScanKey(this.deps.keyPrefix));
    if (raw === null) return null;
    const parsed = ScanSummarySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }
}

/** The shared pacer state, or null when there is none or it is not one (then this leader's own counts). */
function parsePacerState(raw: string | null): SyncPacerState | null {
  if (raw === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = SyncPacerState.safeParse(json);
  return parsed.success ? parsed.data : null;
}
