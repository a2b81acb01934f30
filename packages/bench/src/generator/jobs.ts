import type { TargetKind } from '../targets/deployments.js';
import type { LatencySummary } from '../stats.js';
import type { DeliveryRecords } from './delivery-log.js';

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
  /** Timed by the orchestrator, which runs the steps on every generator process. */
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

export type GeneratorUsage = {
  cpuSeconds: number;
  /** CPU time over wall time of the measured window, % of one core. */
  cpuPercent: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  rssMiB: number;
  /** Its own CPU near a full core, or its event loop lagging: its numbers are a floor, not the server's. */
  bottleneck: boolean;
  /** Several generator processes: each one's usage (the fields above are their sum, or their worst). */
  processes?: GeneratorUsage[];
  /** Generator CPU per tracked delivery received in the window, µs. */
  usPerDelivery?: number;
};

/** Which share of a fan-out job one generator process runs: part `index` of `count`. */
export type FanoutPart = { index: number; count: number };

/** What one generator process reports at the end of a fan-out job, merged by the orchestrator. */
export type FanoutPartResult = {
  clients: number;
  records: DeliveryRecords;
  presence: {
    sent: { keys: Float64Array; times: Float64Array; measured: Float64Array };
    received: { keys: Float64Array; times: Float64Array };
    messages: number;
    bytes: number;
  };
  /** Per room this process has clients in: the distinct texts its clients ended with. */
  rooms: Array<{ room: number; texts: string[] }>;
  /** Tandem: its checked rooms' server states equal its clients' text (null: none checked here). */
  serverStateMatches: boolean | null;
  refusedEdits: number;
  disconnects: number;
  connectMs: number[];
};

/** The steps of a fan-out job; the orchestrator runs each on every process before the next. */
export type FanoutStep = 'connect-first' | 'connect-rest' | 'type' | 'measure' | 'stop' | 'progress' | 'finish';

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
  /** Generator processes the clients were split over (rooms whole when there are enough rooms). */
  generatorProcesses: number;
  /** Received tracked items no process sent (0), and deliveries timed before their send (0: one clock). */
  unmatched: number;
  negativeLatencies: number;
  /** The widest round trip within which each process's shared clock was checked against the orchestrator's, ms. */
  clockCheckMs: number;
};

export type IdleCheckpoint = {
  connected: number;
  failed: number;
  connectMs: LatencySummary;
  /** Since the first connection, pauses at earlier checkpoints included. */
  elapsedMs: number;
  /** This step's connections alone: from its first connect to its last join. */
  stepMs: number;
};

export type IdleResult = {
  kind: 'idle';
  checkpoints: IdleCheckpoint[];
  generator: GeneratorUsage;
  disconnects: number;
};

/** Messages between the orchestrator and a generator process. */
export type ToGenerator =
  | { type: 'run'; job: IdleJob }
  | { type: 'fanout'; job: FanoutJob; part: FanoutPart }
  | { type: 'step'; step: FanoutStep }
  | { type: 'clock' }
  | { type: 'continue' }
  | { type: 'stop' };
export type FromGenerator =
  | { type: 'ready' }
  | { type: 'clock'; now: number }
  | { type: 'created' }
  | { type: 'done'; step: FanoutStep; data: unknown }
  | { type: 'checkpoint'; checkpoint: IdleCheckpoint }
  | { type: 'result'; result: IdleResult }
  | { type: 'error'; message: string };
