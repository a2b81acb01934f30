import type { TargetKind } from '../targets/deployments.js';
import type { LatencySummary } from '../stats.js';

/** What the orchestrator asks a generator process to do. */
export type FanoutJob = {
  kind: 'fanout';
  target: TargetKind;
  /** Server URLs; clients are spread over them round-robin. */
  urls: string[];
  /** Tandem: the HS256 secret; each client signs its own user's token (one user per client). */
  secret?: string;
  /** Tandem: room = shard id, path = the shared file. Others: room = document name. */
  rooms: Array<{ room: string; path?: string }>;
  clientsPerRoom: number;
  /** How many clients of each room type (default: all). */
  typistsPerRoom?: number;
  editIntervalMs: number;
  /** When set, every client also moves its cursor (presence) at this interval. */
  presenceIntervalMs?: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  /** Text the first client inserts before the others join (baselines start empty; Tandem's file has text). */
  seedText?: string;
  connectConcurrency: number;
};

export type IdleJob = {
  kind: 'idle';
  target: TargetKind;
  urls: string[];
  secret?: string;
  /** One room per connection (Tandem: shard ids). */
  rooms: string[];
  /** Connection counts at which to pause so the orchestrator can measure the servers. */
  checkpoints: number[];
  connectConcurrency: number;
};

export type Job = FanoutJob | IdleJob;

export type GeneratorUsage = {
  cpuSeconds: number;
  /** CPU time over wall time of the measured window, % of one core. */
  cpuPercent: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  rssMiB: number;
  /** Its own CPU near a full core, or its event loop lagging: its numbers are a floor, not the server's. */
  bottleneck: boolean;
};

export type FanoutResult = {
  kind: 'fanout';
  clients: number;
  windowSeconds: number;
  editsSent: number;
  editsPerSecond: number;
  deliveriesExpected: number;
  delivered: number;
  deliveriesPerSecond: number;
  lost: number;
  duplicates: number;
  latency: LatencySummary;
  presence: (LatencySummary & { messagesPerSecond: number; bytesPerSecond: number }) | null;
  converged: boolean;
  divergentRooms: number;
  /** Tandem: every checked room's server state equals the clients' text. */
  serverStateMatches: boolean | null;
  refusedEdits: number;
  disconnects: number;
  connectMs: LatencySummary;
  generator: GeneratorUsage;
};

export type IdleCheckpoint = { connected: number; failed: number; connectMs: LatencySummary; elapsedMs: number };

export type IdleResult = {
  kind: 'idle';
  checkpoints: IdleCheckpoint[];
  generator: GeneratorUsage;
  disconnects: number;
};

/** Messages between the orchestrator and a generator process. */
export type ToGenerator = { type: 'run'; job: Job } | { type: 'continue' } | { type: 'stop' };
export type FromGenerator =
  | { type: 'ready' }
  | { type: 'phase'; phase: 'measuring' | 'draining' }
  | { type: 'checkpoint'; checkpoint: IdleCheckpoint }
  | { type: 'result'; result: FanoutResult | IdleResult }
  | { type: 'error'; message: string };
