import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, tokenFor } from '../test/support/test-app.js';
import { createShardRepository, type IShardRepository } from '../src/persistence/index.js';
import { ChaosCluster, CHAOS_SERVER_ENV } from './cluster.js';
import { EditLoad, TokenLedger, tokensIn, type LoadClient } from './load.js';
import { allConverged, checkClients, inspectCache, readStoredText } from './checker.js';
import { FAULT_NAMES, FAULTS, type FaultContext, type FaultName } from './faults.js';

export type ChaosSettings = {
  faults: readonly FaultName[];
  /** API instances, each behind its own balancer. */
  instances: number;
  /** Steady clients, spread over `shards` shards and over the balancers. */
  clients: number;
  shards: number;
  /** Each client types a token every min..max ms. */
  intervalMs: readonly [number, number];
  /** Seconds of steady load before each fault (and the length of the join/leave burst). */
  loadSeconds: number;
  dbOutageMs: number;
  /** The PostgreSQL outage during which Redis is flushed and every client reconnects. */
  flushOutageMs: number;
  /** Extra shards the join/leave burst uses, and how many burst clients run at once. */
  burstShards: number;
  burstWorkers: number;
  entry: 'source' | 'dist';
  /** Server environment on top of CHAOS_SERVER_ENV. */
  serverEnv: Record<string, string>;
  /** How long recovery may take before the fault counts as not recovered. */
  recoveryTimeoutMs: number;
  /** How long clients may take to settle and the database to catch up at a check. */
  checkTimeoutMs: number;
};

export function defaultSettings(quick: boolean): ChaosSettings {
  return {
    faults: [...FAULT_NAMES],
    instances: 3,
    clients: quick ? 12 : 30,
    shards: quick ? 3 : 6,
    intervalMs: [50, 100],
    loadSeconds: quick ? 3 : 10,
    dbOutageMs: quick ? 5_000 : 30_000,
    flushOutageMs: quick ? 2_000 : 10_000,
    burstShards: quick ? 2 : 3,
    burstWorkers: quick ? 4 : 6,
    entry: 'source',
    serverEnv: {},
    recoveryTimeoutMs: 120_000,
    checkTimeoutMs: 60_000,
  };
}

/** One row of the result table. */
export type FaultResult = {
  fault: FaultName;
  title: string;
  /** Tokens whose `file:edit` was acknowledged during this fault's phase (load before, during, after). */
  acknowledged: number;
  /** Acknowledged tokens (from the whole run so far) missing from a client or from the database. */
  lost: number;
  /** A few of them, for the report. */
  lostSample: string[];
  convergedShards: number;
  totalShards: number;
  /** Seconds from the end of the fault until every client's new edits reached all its peers and the database held everything acknowledged by then; null if that never happened. */
  recoverSeconds: number | null;
  notes: string[];
  passed: boolean;
};

export type ChaosReport = {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  settings: ChaosSettings & { serverEnvEffective: Record<string, string> };
  setupSeconds: number;
  typed: number;
  acknowledged: number;
  /** Tokens per second the steady clients actually typed (the target is clients × 1000 / mean interval). */
  typedPerSecond: number;
  /** Event-loop delay of the process running the clients (p99, ms): high values mean the load generator was starved. */
  loadEventLoopP99Ms: number;
  results: FaultResult[];
  passed: boolean;
};

const LOAD_FILE = 'chaos/load.txt';

/**
 * Runs the chaos suite: starts the cluster and the load, injects each fault in turn, waits for
 * recovery, checks, and tears everything down (also when aborted or failing).
 */
export async function runChaos(
  settings: ChaosSettings,
  options: {
    log: (message: string) => void;
    signal?: AbortSignal;
    /** Receives every server process's output at the end (passed: whether every check passed), before the processes go. */
    onLogs?: (logs: Array<{ name: string; output: string }>, startedAt: string, passed: boolean) => void;
  },
): Promise<ChaosReport> {
  const { log } = options;
  const signal = options.signal ?? new AbortController().signal;
  const startedAt = new Date();
  const t0 = performance.now();
  const results: FaultResult[] = [];
  let cluster: ChaosCluster | undefined;
  let load: EditLoad | undefined;
  let redis: Redis | undefined;
  let repository: IShardRepository | undefined;
  const ledger = new TokenLedger();
  let passed = false;
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  try {
    cluster = await ChaosCluster.start({
      instances: settings.instances,
      entry: settings.entry,
      env: settings.serverEnv,
      log,
    });
    signal.throwIfAborted();
    const c = cluster;
    redis = new Redis(c.redis.url, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    repository = createShardRepository({ kind: 'postgres', url: c.directDatabaseUrl, poolSize: 2 });
    const token = await adminToken();
    const rest = new TandemRest({ url: c.liveUrl(), token });
    const createShards = async (n: number, name: string): Promise<ShardId[]> => {
      const ids: ShardId[] = [];
      for (let i = 0; i < n; i++) {
        const { shard } = await rest.createShard({ templateId: 'vanilla', name: `${name} ${i}` });
        await rest.writeFile(shard.id, LOAD_FILE, '');
        ids.push(shard.id);
      }
      return ids;
    };
    const shards = await createShards(settings.shards, 'chaos');
    const burstShards = await createShards(settings.burstShards, 'chaos burst');
    // The load file must be in the database before any fault: a flush that lands before the
    // file's creation was synced loses the file itself, which no client can restore (reported
    // separately; see docs/operations.md).
    const dbReady = await poll(
      async () => {
        for (const shardId of [...shards, ...burstShards])
          if ((await readStoredText(repository as IShardRepository, shardId, LOAD_FILE)) === null) return false;
        return true;
      },
      30_000,
      signal,
      250,
    );
    if (!dbReady) throw new Error('the load file did not reach the database within 30 s of its creation');
    // Each client is its own user (an admin, so it may write every shard).
    const clientToken = (i: number) => tokenFor({ sub: `chaos-${i}`, role: 'admin' });
    load = await EditLoad.start({
      shards,
      clients: settings.clients,
      urlFor: (i) => c.balancerUrl(i % settings.instances),
      tokenFor: clientToken,
      path: LOAD_FILE,
      intervalMs: settings.intervalMs,
      ledger,
    });
    const setupSeconds = (performance.now() - t0) / 1000;
    log(
      `setup done in ${setupSeconds.toFixed(1)} s: ${settings.clients} clients on ${shards.length} shards, ${burstShards.length} burst shards`,
    );
    const env = { ...CHAOS_SERVER_ENV, ...settings.serverEnv };
    const ctx: FaultContext = {
      cluster: c,
      load,
      ledger,
      burstShards,
      tokenFor: clientToken,
      path: LOAD_FILE,
      redis,
      settings: {
        dbOutageMs: settings.dbOutageMs,
        flushOutageMs: settings.flushOutageMs,
        burstMs: Math.max(10, 2 * settings.loadSeconds) * 1000,
        burstWorkers: settings.burstWorkers,
        evictGraceMs: Number(env['CACHE_EVICT_GRACE_MS']),
        syncIntervalMs: Number(env['SYNC_INTERVAL_MS']),
      },
      log,
      signal,
    };
    const checker = new Checker(ctx, repository, settings);

    for (const name of settings.faults) {
      signal.throwIfAborted();
      const fault = FAULTS[name];
      const title = fault.title(ctx);
      const phaseStart = Date.now();
      load.resume();
      log(`${name}: ${settings.loadSeconds} s of steady load`);
      await sleep(settings.loadSeconds * 1000, undefined, { signal });
      log(`${name}: injecting (${title})`);
      const notes: string[] = [];
      let recoverSeconds: number | null = null;
      let injected: Awaited<ReturnType<typeof fault.inject>> | undefined;
      try {
        injected = await fault.inject(ctx);
        notes.push(...injected.notes);
        const background = injected.background?.then(
          () => undefined,
          (error: unknown) =>
            notes.push(`recovery step failed: ${error instanceof Error ? error.message : String(error)}`),
        );
        const recovery = await checker.waitRecovered(injected.endedAt, injected.quiet ?? false);
        await background;
        recoverSeconds = recovery.seconds;
        const realtime = recovery.realtimeSeconds === null ? 'never' : `${recovery.realtimeSeconds.toFixed(1)} s`;
        log(
          `${name}: ${recoverSeconds === null ? 'did NOT recover' : `recovered in ${recoverSeconds.toFixed(1)} s`} (realtime ${realtime})`,
        );
        if (recoverSeconds === null)
          notes.push(`not recovered within ${settings.recoveryTimeoutMs / 1000} s (realtime: ${realtime})`);
        else
          notes.push(
            injected.quiet === true
              ? `clients converged after ${realtime}`
              : `edits flowing between all clients again after ${realtime}`,
          );
        if (injected.finish !== undefined) notes.push(...(await injected.finish()));
      } catch (error) {
        if (signal.aborted) throw error;
        notes.push(`fault failed: ${error instanceof Error ? error.message : String(error)}`);
        log(`${name}: ${notes[notes.length - 1] ?? ''}`);
      }
      const check = await checker.verify(injected?.lost ?? new Set());
      check.problems.push(...(injected?.problems ?? []));
      notes.push(...check.problems);
      const result: FaultResult = {
        fault: name,
        title,
        acknowledged: ledger.ackedBetween(phaseStart, Date.now()),
        lost: check.lost.size,
        lostSample: [...check.lost].slice(0, 10),
        convergedShards: check.convergedShards,
        totalShards: check.totalShards,
        recoverSeconds,
        notes,
        passed:
          check.lost.size === 0 &&
          check.convergedShards === check.totalShards &&
          check.problems.length === 0 &&
          recoverSeconds !== null,
      };
      results.push(result);
      log(
        `${name}: ${result.passed ? 'PASS' : 'FAIL'}: ${result.acknowledged} acknowledged, ${result.lost} lost, ${result.convergedShards}/${result.totalShards} shards converged`,
      );
      try {
        await injected?.restore?.();
      } catch (error) {
        log(`${name}: could not restore the cluster: ${String(error)}`);
      }
    }
    load.pause();
    passed = results.length === settings.faults.length && results.every((r) => r.passed);
    return {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      settings: { ...settings, serverEnvEffective: env },
      setupSeconds,
      typed: ledger.list.length,
      typedPerSecond: Math.round(load.typedPerSecond),
      loadEventLoopP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
      acknowledged: ledger.ackedCount,
      results,
      passed,
    };
  } finally {
    loopDelay.disable();
    load?.pause();
    if (cluster !== undefined) options.onLogs?.(cluster.logs(), startedAt.toISOString(), passed);
    await load?.close();
    redis?.disconnect();
    await repository?.close().catch(() => undefined);
    await cluster?.close();
  }
}

type Verification = { lost: Set<string>; convergedShards: number; totalShards: number; problems: string[] };

/** Recovery detection and the checks after each fault. */
class Checker {
  private readonly byShard: Map<ShardId, LoadClient[]>;
  private readonly allShards: ShardId[];

  constructor(
    private readonly ctx: FaultContext,
    private readonly repository: IShardRepository,
    private readonly settings: ChaosSettings,
  ) {
    this.byShard = new Map(ctx.load.shards.map((s) => [s, ctx.load.clientsOf(s)]));
    this.allShards = [...ctx.load.shards, ...ctx.burstShards];
  }

  /**
   * Waits (load running) until the system works again: every client is connected and joined,
   * a token each client typed after `since` was acknowledged and reached every peer of its
   * shard, and the database holds every token acknowledged up to `since`. Returns seconds
   * since `since`, or null after the recovery timeout.
   */
  async waitRecovered(
    since: number,
    quiet: boolean,
  ): Promise<{ seconds: number | null; realtimeSeconds: number | null }> {
    const { ledger, load, signal } = this.ctx;
    const mustPersist = ledger.acknowledged(this.allShards, since);
    // With nobody typing the database catches up within a few sync intervals, or never.
    const deadline =
      since + (quiet ? Math.min(30_000, this.settings.recoveryTimeoutMs) : this.settings.recoveryTimeoutMs);
    let realtimeAt: number | undefined;
    let dbCheckedAt = 0;
    while (Date.now() < deadline) {
      signal.throwIfAborted();
      if (
        realtimeAt === undefined &&
        (quiet ? load.clients.every((c) => c.isLive) && allConverged(this.byShard) : this.realtimeRecovered(since))
      ) {
        realtimeAt = Date.now();
      }
      if (realtimeAt !== undefined && Date.now() - dbCheckedAt >= 250) {
        dbCheckedAt = Date.now();
        if (await this.databaseHolds(mustPersist))
          return { seconds: (Date.now() - since) / 1000, realtimeSeconds: (realtimeAt - since) / 1000 };
      }
      await sleep(50, undefined, { signal });
    }
    return { seconds: null, realtimeSeconds: realtimeAt === undefined ? null : (realtimeAt - since) / 1000 };
  }

  private realtimeRecovered(since: number): boolean {
    const { ledger, load } = this.ctx;
    if (!load.clients.every((c) => c.isLive)) return false;
    const done = new Set<number>();
    for (let i = ledger.list.length - 1; i >= 0; i--) {
      const t = ledger.list[i];
      if (t === undefined || t.typedAt < since) break;
      if (t.ackedAt === undefined || done.has(t.clientIndex)) continue;
      const peers = this.byShard.get(t.shardId);
      if (peers !== undefined && peers.every((p) => p.has(t))) done.add(t.clientIndex);
    }
    return load.clients.every((c) => done.has(c.index));
  }

  private async databaseHolds(tokensByShard: ReadonlyMap<ShardId, ReadonlySet<string>>): Promise<boolean> {
    for (const [shardId, tokens] of tokensByShard) {
      if (tokens.size === 0) continue;
      let stored;
      try {
        stored = await readStoredText(this.repository, shardId, this.ctx.path);
      } catch {
        // The checker reads PostgreSQL directly; a failed read just means "not yet".
        return false;
      }
      if (stored === null) return false;
      const present = tokensIn(stored.content);
      for (const token of tokens) if (!present.has(token)) return false;
    }
    return true;
  }

  /**
   * With the load paused: every client live with nothing unacknowledged; all clients of a shard
   * with identical text holding every acknowledged token; the database text equal to it (and to
   * the text of its stored Yjs state); no shard half-evicted.
   */
  async verify(lostDuringFault: ReadonlySet<string>): Promise<Verification> {
    const { ledger, load, signal } = this.ctx;
    // One deadline for the whole check: a broken cluster fails it once, not once per shard.
    const deadline = Date.now() + this.settings.checkTimeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    const problems: string[] = [];
    const lost = new Set<string>(lostDuringFault);
    load.pause();
    try {
      if (!(await poll(() => load.clients.every((c) => c.isLive), left(), signal))) {
        const stuck = load.clients.filter((c) => !c.isLive);
        problems.push(
          `${stuck.length} clients not live (${[...new Set(stuck.map((c) => `${c.client.socket.connected ? 'connected' : 'disconnected'}/${c.session.status}`))].join(', ')})`,
        );
      }
      await Promise.allSettled(load.clients.map((c) => c.session.flushed(left())));
      // Broadcasts still in flight settle within a moment; a divergence that lasts is a bug.
      await poll(() => allConverged(this.byShard), left(), signal, 250);
      const acked = ledger.acknowledged(this.allShards);
      let convergedShards = 0;
      const agreed = new Map<ShardId, string>();
      for (const [shardId, clients] of this.byShard) {
        const result = checkClients(clients, acked.get(shardId) ?? new Set());
        if (result.converged) {
          convergedShards++;
          agreed.set(shardId, result.text);
        }
        for (const token of result.missing) lost.add(token);
      }
      if (lost.size > 0) problems.push(`${lost.size} acknowledged tokens missing from clients`);

      // The database catches up within a few sync intervals once the load stops.
      const dbMissing = new Set<string>();
      for (const shardId of this.allShards) {
        const expected = agreed.get(shardId);
        const tokens = acked.get(shardId) ?? new Set<string>();
        let last: Awaited<ReturnType<typeof readStoredText>> = null;
        const matched = await poll(
          async () => {
            last = await readStoredText(this.repository, shardId, this.ctx.path);
            if (last === null) return false;
            if (last.content !== last.stateText) return false;
            if (expected !== undefined) return last.content === expected;
            const present = tokensIn(last.content);
            for (const token of tokens) if (!present.has(token)) return false;
            return true;
          },
          left(),
          signal,
          250,
        );
        if (!matched) {
          const stored = last as Awaited<ReturnType<typeof readStoredText>>;
          const present = tokensIn(stored?.content ?? '');
          for (const token of tokens) if (!present.has(token)) dbMissing.add(token);
          if (stored !== null && stored.content !== stored.stateText)
            problems.push(`shard ${shardId.slice(0, 8)}: stored text differs from its stored Yjs state`);
          else if (expected !== undefined)
            problems.push(`shard ${shardId.slice(0, 8)}: database text differs from the clients' text`);
        }
      }
      for (const token of dbMissing) lost.add(token);
      if (dbMissing.size > 0) problems.push(`${dbMissing.size} acknowledged tokens missing from the database`);

      for (const shardId of this.allShards) {
        let state = await inspectCache(this.ctx.redis, this.ctx.cluster.prefix, shardId);
        // A join or populate may be in flight for a moment; a half state that lasts is a bug.
        if (state.kind === 'half' || state.kind === 'transient') {
          await sleep(3000, undefined, { signal });
          state = await inspectCache(this.ctx.redis, this.ctx.cluster.prefix, shardId);
        }
        if (state.kind === 'half')
          problems.push(`shard ${shardId.slice(0, 8)} half-evicted: ${state.problem} (${state.parts.join(', ')})`);
        else if (state.kind === 'transient')
          problems.push(`shard ${shardId.slice(0, 8)}: only ${state.parts.join(', ')} left in Redis`);
        else if (state.kind === 'loaded' && !state.inOpenSet)
          problems.push(`shard ${shardId.slice(0, 8)} cached but not in the open-shards set (never synced)`);
        else if (state.kind === 'absent' && this.byShard.has(shardId))
          problems.push(`shard ${shardId.slice(0, 8)} evicted while clients are in it`);
      }
      return { lost, convergedShards, totalShards: this.byShard.size, problems };
    } catch (error) {
      if (signal.aborted) throw error;
      problems.push(`check failed: ${error instanceof Error ? error.message : String(error)}`);
      return { lost, convergedShards: 0, totalShards: this.byShard.size, problems };
    }
  }
}

/** Polls until `check` is true; false after the timeout. */
async function poll(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  signal: AbortSignal,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    try {
      if (await check()) return true;
    } catch {
      // A failed probe (e.g. the database read) counts as "not yet".
    }
    if (Date.now() >= deadline) return false;
    await sleep(everyMs, undefined, { signal });
  }
}
