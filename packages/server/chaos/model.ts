/**
 * The model-based test of the whole trust promise (issue 10, "Also"): SDK clients over several
 * API instances doing a seeded random mix of typing, tree operations, disconnects with offline
 * work, while instances are killed and restarted, Redis is flushed and acks are dropped. Then
 * everything stops and the checker demands that every client, the server and the database agree;
 * throughout, a monitor checks every "saved" a session claims against the database.
 *
 * Shared by the short integration test (test/integration/model-trust.test.ts) and the chaos
 * suite's `model` scenario. The operation sequence and fault schedule depend only on the seed
 * (MODEL_SEED replays a run); network timing does not, so a replay follows the same script but
 * not necessarily the same interleaving.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as Y from 'yjs';
import { isRetryableError, type FileEntry, type FileId, type ShardId, type TreeChange } from '@tandem/protocol';
import { TandemClient, TandemError, TandemRest, type ShardSession, type TandemSocket } from '@tandem/client-sdk';
import { createShardRepository, type IShardRepository, type Shard } from '../src/persistence/index.js';
import { adminToken } from '../test/support/test-app.js';
import type { ChaosCluster } from './cluster.js';
import type { Fault } from './faults.js';
import { itemBoundaryNear } from './load.js';

/** A model token: `{m<client>.<sequence>}`, unique in the run (distinct from the load's `{c…}`). */
const MODEL_TOKEN = /\{m\d+\.\d+\}/g;

export type ModelFaultKind = 'instance-kill' | 'crash-after-store' | 'redis-flush' | 'drop-acks';
/**
 * - instance-kill: kill -9 of an API instance (its balancer fails over; restarted 1–3 s later)
 * - crash-after-store: an instance armed (TANDEM_TEST_FAULTS) to SIGKILL itself right after its
 *   next few stores of an edit or a tree operation, before broadcasting them; then as above
 * - redis-flush: FLUSHALL of the cluster's own Redis
 * - drop-acks: an instance processes edits and tree operations but sends no ack for 1–3 s
 */
export const MODEL_FAULT_KINDS: readonly ModelFaultKind[] = [
  'drop-acks',
  'instance-kill',
  'crash-after-store',
  'redis-flush',
];

export type ModelSettings = {
  seed: number;
  clients: number;
  shards: number;
  /** Random client operations in the run. */
  operations: number;
  /** Pause between two operations, drawn uniformly (ms). */
  stepMs: readonly [number, number];
  /** Faults in the run (each kind at least once when there are enough), in its first 75 %. */
  faults: number;
  faultKinds: readonly ModelFaultKind[];
  /** How long clients, server and database may take to agree once everything stopped. */
  settleTimeoutMs: number;
  /** Log every operation, ack, tree change heard, status and saved check too (MODEL_TRACE=1). */
  trace?: boolean;
};

/** A seed from MODEL_SEED, else a fresh one (printed by the caller so a run can be replayed). */
export function modelSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['MODEL_SEED'];
  if (raw !== undefined && raw !== '') {
    const seed = Number(raw);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`MODEL_SEED must be a non-negative integer, not ${raw}`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** The fault kinds named in MODEL_FAULTS (comma-separated), else all of them. */
export function modelFaultKinds(env: NodeJS.ProcessEnv = process.env): ModelFaultKind[] {
  const raw = env['MODEL_FAULTS'];
  if (raw === undefined || raw.trim() === '') return [...MODEL_FAULT_KINDS];
  const names = raw.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(MODEL_FAULT_KINDS as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(`MODEL_FAULTS: unknown ${unknown.join(', ')}; choose from ${MODEL_FAULT_KINDS.join(', ')}`);
  return MODEL_FAULT_KINDS.filter((k) => names.includes(k));
}

/** mulberry32: a small seeded PRNG, good enough to draw a test script from. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** An independent generator for part `n` of the run with this seed. */
  static derive(seed: number, n: number): Rng {
    return new Rng((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(n + 0x632be5ab, 0xc2b2ae35)) >>> 0);
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.int(items.length)];
  }
}

export type ModelReport = {
  seed: number;
  /** Client operations by kind (typed tokens, tree operations, disconnects, …). */
  operations: Record<string, number>;
  operationsTotal: number;
  faults: Record<ModelFaultKind, number>;
  /** Edits (tokens) and tree operations the server acknowledged. */
  ackedTokens: number;
  ackedTreeOps: number;
  /** "saved" claims checked against the database, and those that were false. */
  savedChecks: number;
  /** A session said saved while an edit or tree operation it had acknowledged was not in the database. */
  falseSaved: number;
  /** A session said saved while a token it had typed (a local change, acked or not) was not in the database. */
  falseSavedTyped: number;
  /** Client/server/database disagreements left after the settle timeout (per client and file or tree). */
  divergences: number;
  /** Acknowledged tokens missing from the database at the end (their file not deleted). */
  lostTokens: number;
  /** Acknowledged tree operations whose effect the database does not show at the end. */
  lostTreeOps: number;
  /** Tree operations that ended without an outcome (dropped while offline, cut by a crash, timed out). */
  droppedTreeOps: { offline: number; online: number };
  /** Tree operations refused for a reason that stays (conflicts with what others did). */
  refusedTreeOps: number;
  /** Edits refused for good (their text handed back to the user, who dismissed the refusal). */
  refusedEdits: number;
  /** Seconds from the end of the faults until everything agreed, or null. */
  settleSeconds: number | null;
  /** A few examples of each failure, for the report. */
  samples: string[];
  passed: boolean;
};

/** What the model needs from the cluster it runs on. */
export type ModelCluster = Pick<
  ChaosCluster,
  'instances' | 'balancerUrl' | 'killInstance' | 'restartInstance' | 'flushRedis' | 'liveUrl'
>;

export type ModelOptions = {
  cluster: ModelCluster;
  repository: IShardRepository;
  /** An admin token (creates shards, arms faults). */
  adminToken: string;
  /** A token for model client i (each its own user). */
  tokenFor: (clientIndex: number) => Promise<string>;
  log: (message: string) => void;
  signal?: AbortSignal;
};

type TreeState = string | null;
/**
 * Where a tree state stands in the order users made the operations: the order the model heard of
 * them (acks and broadcasts), except that an operation applied again (a replay after Redis lost
 * it, or a create re-applied under its file id) stands where it first stood. Shard versions cannot
 * order them: Redis flushes restart the shard clock.
 */
type Stamp = number;

type TreeOpKind = 'create' | 'rename' | 'delete';

/** One simulated collaborator. */
class ModelClient {
  /** Tokens this client typed and acknowledged (append-only, so a length is a snapshot). */
  readonly typed: Array<{ token: string; fileId: FileId }> = [];
  readonly acked: Array<{ token: string; fileId: FileId }> = [];
  /** `version`: the shard clock the operation was stored at (its ack's), 0 when unknown. */
  readonly ackedTree: Array<{ fileId: FileId; stamp: Stamp; version: number }> = [];
  readonly texts = new Map<FileId, Y.Text>();
  /** Tokens an edit refusal handed back to the user (in its `localText`). */
  readonly handedBack = new Set<string>();
  /** The model took it offline (socket.disconnect()) until this step. */
  offlineUntil: number | undefined;
  sequence = 0;
  private checking: Promise<void> = Promise.resolve();

  constructor(
    readonly index: number,
    readonly shardId: ShardId,
    readonly client: TandemClient,
    readonly session: ShardSession,
  ) {}

  get online(): boolean {
    return this.client.socket.connected;
  }

  /** Files this client has open and still in its tree. */
  /**
   * The texts the user has open and the session still syncs: a document the session closed (a
   * deletion) or replaced ('reset') is dead, and typing into it would go nowhere; an editor
   * drops it (the file leaves the tree) or binds to the replacement ('reset', below).
   */
  openFiles(): Array<[FileId, Y.Text]> {
    return [...this.texts].filter(([id, text]) => this.session.doc(id) === text.doc);
  }

  /** Runs monitor checks one at a time per client. */
  queue(check: () => Promise<void>): void {
    this.checking = this.checking.then(check, check);
  }

  idle(): Promise<void> {
    return this.checking;
  }
}

/** Everything the model knows about what was acknowledged, across clients. */
export class Ledger {
  private sequence = 0;
  /** Per file: every tree state an ack or a broadcast reported, in the order heard. */
  readonly history = new Map<
    FileId,
    Array<{
      stamp: Stamp;
      state: TreeState;
      by: string;
      created: boolean;
      version: number;
      replay: boolean;
      /** When it was heard: entries are numbered in the order they reach the ledger. */
      heard: number;
    }>
  >();
  private heardCount = 0;
  readonly ackedTokens = new Map<string, { fileId: FileId; shardId: ShardId }>();
  ackedTreeOps = 0;
  /** The stamp of each tree operation id's first ack. */
  private readonly firstStampOf = new Map<string, Stamp>();

  /** `by`: who reported it (`ack c3`: client 3's ack; `c3`: a broadcast client 3 received). */
  private record(fileId: FileId, state: TreeState, by: string, version: number, created = false) {
    let list = this.history.get(fileId);
    if (list === undefined) this.history.set(fileId, (list = []));
    // File ids are chosen per create: a second creation of one id is that create applied again.
    const first = created ? list.find((h) => h.created) : undefined;
    // (Every member of the room hears the first creation, at one version; another version is a re-application.)
    const replay = first !== undefined && first.version !== version;
    // One application of an operation is heard at one version by every member, and by its
    // sender in the ack — also in an ack that comes much later (the first was lost and the same
    // opId was answered with the first outcome): it stands where it was first heard.
    const same = version > 0 ? list.find((h) => h.version === version && h.state === state) : undefined;
    const stamp = first?.stamp ?? same?.stamp ?? ++this.sequence;
    const entry = { stamp, state, by, created, version, replay, heard: ++this.heardCount };
    list.push(entry);
    return entry;
  }

  recordTemplate(fileId: FileId, path: string): void {
    this.record(fileId, path, 'template', 0);
  }

  /**
   * Records a tree change. With `opId` (an ack): the same opId acknowledged again is a replay (the
   * SDK sends acknowledged operations again after Redis lost them), which stands where the user
   * made it — else a replayed create would count as newer than the deletion that followed it.
   * Returns the stamp of each file's new state, and whether this was the operation's first ack.
   */
  recordChange(change: TreeChange, version: number, by: string, opId?: string): { stamps: Stamp[]; first: boolean } {
    const entries = (() => {
      switch (change.kind) {
        case 'created':
          return [this.record(change.file.id, change.file.path, by, version, true)];
        case 'renamed':
          return change.moves.map((m) => this.record(m.id, m.to, by, version));
        case 'deleted':
          return change.files.map((f) => this.record(f.id, null, by, version));
        case 'replaced':
          // A binary file's new bytes: the tree is unchanged (the model tracks text only).
          return [];
      }
    })();
    if (opId === undefined || entries.length === 0) return { stamps: entries.map((e) => e.stamp), first: true };
    const earlier = this.firstStampOf.get(opId);
    if (earlier === undefined) {
      this.firstStampOf.set(opId, entries[0]!.stamp);
      return { stamps: entries.map((e) => e.stamp), first: true };
    }
    for (const e of entries) {
      e.stamp = Math.min(e.stamp, earlier);
      e.replay = true;
    }
    return { stamps: entries.map((e) => e.stamp), first: false };
  }

  /** What was reported of a file, in order (for reports). */
  seen(fileId: FileId): string {
    return (this.history.get(fileId) ?? [])
      .map((h) => `${h.state ?? 'deleted'} (${h.by}${h.replay ? ', a replay' : ''})`)
      .join(' → ');
  }

  /** The ledger as heard so far: pass it to `shows` to judge a read with what was known then. */
  mark(): number {
    return this.heardCount;
  }

  /**
   * Whether the database's state of a file shows a tree operation stamped `stamp`: the file is
   * where that operation or a later one put it. A state nobody reported (an operation whose ack
   * and broadcast were both lost) counts as later; an absent file counts only if a deletion
   * was reported. `heardBy`: judge with what the ledger had heard by that mark. `version` (the
   * operation's shard clock, 0 when unknown): a report stored at a higher version is later too,
   * whatever order the reports came in. Stamps follow the order reports arrive in, and an
   * operation nobody heard broadcast (its room learned it from a rejoin's tree) is first reported
   * by its ack, which may come after a later operation's (a rename acked after the deletion that
   * followed it). A later clock run starts above every version of an earlier one (the Redis
   * time), so versions order reports across a flush too.
   */
  shows(fileId: FileId, dbState: TreeState, stamp: Stamp, heardBy = Infinity, version = 0): boolean {
    const list = (this.history.get(fileId) ?? []).filter((h) => h.heard <= heardBy);
    const later = (h: { stamp: Stamp; version: number }) => h.stamp >= stamp || (version > 0 && h.version > version);
    if (list.some((h) => h.state === dbState && later(h))) return true;
    if (dbState === null) return false;
    return !list.some((h) => h.state === dbState);
  }

  /**
   * `shows` for a database read made at mark `heardBy` whose last sync was `savedUpTo`, judged
   * with what was heard later too: an operation nobody had reported when the read was made (its
   * ack and its broadcast were lost in a crash; its sender's replay reported it later with the
   * version it was stored at) explains the database's state if it is at or after `stamp` and
   * was stored at a version the read's sync covered. Versions of a clock restarted after a flush
   * start above every sync before it, so they never explain an earlier read.
   */
  showsBySync(
    fileId: FileId,
    dbState: TreeState,
    stamp: Stamp,
    savedUpTo: number,
    heardBy: number,
    version = 0,
  ): boolean {
    if (this.shows(fileId, dbState, stamp, heardBy, version)) return true;
    const list = this.history.get(fileId) ?? [];
    return list.some(
      (h) => h.heard > heardBy && h.state === dbState && h.stamp >= stamp && h.version > 0 && h.version <= savedUpTo,
    );
  }

  /** Whether the file's deletion was heard by mark `heardBy`, or later at a version a sync up to `savedUpTo` covers. */
  deletedBySync(fileId: FileId, savedUpTo: number, heardBy: number): boolean {
    return (
      this.history
        .get(fileId)
        ?.some((h) => h.state === null && (h.heard <= heardBy || (h.version > 0 && h.version <= savedUpTo))) ?? false
    );
  }
}

/**
 * The shard clock value up to which a database read holds the file tree: its last sync, or the
 * newer tree written through by a file operation (IShardRepository.writeTree writes the whole
 * live tree, so it also holds operations stored by others whose broadcasts nobody heard yet).
 */
function treeCoveredUpTo(shard: Shard | null): number {
  return Math.max(shard?.lastSyncTimestamp ?? 0, shard?.treeVersion ?? 0);
}

const TRACE_MARK = '· ';

/**
 * The log lines that explain a failed run: every line that is not a trace line, and the trace
 * lines that name a file id or path the failure samples name, and the saved checks (a whole
 * trace runs to thousands of lines; `all` keeps them all).
 */
export function traceFor(lines: readonly string[], samples: readonly string[], all = false): string[] {
  if (all) return [...lines];
  const names = new Set<string>();
  const clients = new Set<string>();
  for (const sample of samples) {
    for (const [name] of sample.matchAll(/[A-Za-z0-9_-]{16}|[\w.-]+(?:\/[\w.-]+)*\.\w+/g)) names.add(name);
    for (const [, index] of sample.matchAll(/client (\d+)/g)) clients.add(`c${index}`);
  }
  return lines.filter((line) => {
    const at = line.indexOf(TRACE_MARK);
    if (at === -1) return true;
    const message = line.slice(at + TRACE_MARK.length);
    // Lines about a named client (its joins, acks, statuses, notices) name it as `c<index>`.
    const client = /^\S+ (c\d+)\b/.exec(message)?.[1];
    return (
      message.startsWith('saved-check') ||
      (client !== undefined && clients.has(client)) ||
      [...names].some((name) => message.includes(name))
    );
  });
}

/** Runs the model on a running cluster and returns its figures. Closes every client it opened. */
export async function runModel(settings: ModelSettings, options: ModelOptions): Promise<ModelReport> {
  const { cluster, repository } = options;
  // Each line with the milliseconds since the start, to line faults up with a trace.
  const started = Date.now();
  const log = (message: string) => options.log(`${Date.now() - started} ${message}`);
  // Trace lines start with TRACE_MARK, so that a report can pick out the ones it needs (traceFor).
  const trace = settings.trace === true ? (message: string) => log(`${TRACE_MARK}${message}`) : () => undefined;
  const signal = options.signal ?? new AbortController().signal;
  const rng = new Rng(settings.seed);
  const ledger = new Ledger();
  const samples = new Map<string, string[]>();
  const sample = (kind: string, text: string) => {
    const list = samples.get(kind) ?? [];
    if (list.length < (kind === 'refused tree op' ? 20 : 5)) list.push(text);
    samples.set(kind, list);
  };
  const operations: Record<string, number> = {};
  const count = (kind: string) => (operations[kind] = (operations[kind] ?? 0) + 1);
  const faults: Record<ModelFaultKind, number> = {
    'instance-kill': 0,
    'crash-after-store': 0,
    'redis-flush': 0,
    'drop-acks': 0,
  };
  let savedChecks = 0;
  let falseSaved = 0;
  let falseSavedTyped = 0;
  let refusedTreeOps = 0;
  let refusedEdits = 0;
  const dropped = { offline: 0, online: 0 };
  const pendingTreeOps = new Set<Promise<void>>();
  const background = new Set<Promise<void>>();
  const clients: ModelClient[] = [];
  const rest = () => new TandemRest({ url: cluster.liveUrl(), token: options.adminToken });

  const report = (settleSeconds: number | null, divergences: number, lostTokens: number, lostTreeOps: number) => {
    const operationsTotal = Object.values(operations).reduce((a, b) => a + b, 0);
    const drops = dropped.offline + dropped.online;
    return {
      seed: settings.seed,
      operations,
      operationsTotal,
      faults,
      ackedTokens: ledger.ackedTokens.size,
      ackedTreeOps: ledger.ackedTreeOps,
      savedChecks,
      falseSaved,
      falseSavedTyped,
      divergences,
      lostTokens,
      lostTreeOps,
      droppedTreeOps: dropped,
      refusedTreeOps,
      refusedEdits,
      settleSeconds,
      samples: [...samples].flatMap(([kind, list]) => list.map((s) => `${kind}: ${s}`)),
      passed:
        falseSaved === 0 &&
        falseSavedTyped === 0 &&
        divergences === 0 &&
        lostTokens === 0 &&
        lostTreeOps === 0 &&
        drops === 0 &&
        settleSeconds !== null,
    } satisfies ModelReport;
  };

  // ---- the "saved" monitor ------------------------------------------------------------------

  /**
   * Whether the database (one shard read, synced up to `savedUpTo`) holds a token in its file, or
   * the file's deletion (heard then, or heard later at a version that sync covered).
   */
  const holds = (shard: Shard | null, token: string, fileId: FileId, heardBy = Infinity) => {
    const file = shard?.files.find((f) => f.id === fileId);
    if (file === undefined) return ledger.deletedBySync(fileId, treeCoveredUpTo(shard), heardBy);
    return file.content.includes(token);
  };
  const whereIs = (shard: Shard | null, fileId: FileId) => {
    const file = shard?.files.find((f) => f.id === fileId);
    return `${file === undefined ? 'absent from the database' : `database: ${file.path}`}; seen: ${ledger.seen(fileId) || 'nothing'}`;
  };
  /**
   * The checks of every "saved", judged at the end: an operation stored just before an instance
   * died may be heard of only when its sender replays it, after the "saved" that already covered
   * it. Each holds the database read made when the session said saved.
   */
  const savedVerdicts: Array<() => void> = [];
  const onSaved = (c: ModelClient) => {
    // Snapshot now, at the moment the session says saved; the database only moves forward.
    const typed = c.typed.slice();
    const acked = c.acked.slice();
    const ackedTree = c.ackedTree.slice();
    if (typed.length === 0 && acked.length === 0 && ackedTree.length === 0) return;
    c.queue(async () => {
      let shard: Shard | null;
      try {
        shard = await repository.findById(c.shardId);
      } catch {
        // The checker reads PostgreSQL directly; a failed read skips this check.
        return;
      }
      savedChecks++;
      trace(
        `saved-check c${c.index} lastSync=${shard?.lastSyncTimestamp} treeVersion=${shard?.treeVersion} paths=${shard?.files.map((f) => f.path).join(',')}`,
      );
      const handedBack = new Set(c.handedBack);
      const heardBy = ledger.mark();
      savedVerdicts.push(() => {
        const missingAcked: string[] = [];
        for (const { token, fileId } of acked)
          if (!holds(shard, token, fileId, heardBy))
            missingAcked.push(`${token} in ${fileId} (${whereIs(shard, fileId)})`);
        for (const { fileId, stamp, version } of ackedTree) {
          const dbState = shard?.files.find((f) => f.id === fileId)?.path ?? null;
          if (!ledger.showsBySync(fileId, dbState, stamp, treeCoveredUpTo(shard), heardBy, version))
            missingAcked.push(`tree op on ${fileId} (${whereIs(shard, fileId)})`);
          else if (!ledger.showsBySync(fileId, dbState, stamp, shard?.lastSyncTimestamp ?? 0, heardBy, version))
            sample('explained by a tree written through', `client ${c.index}: ${fileId} (${whereIs(shard, fileId)})`);
        }
        const missingTyped: string[] = [];
        for (const { token, fileId } of typed)
          if (!handedBack.has(token) && !holds(shard, token, fileId, heardBy))
            missingTyped.push(`${token} in ${fileId} (${whereIs(shard, fileId)})`);
        if (missingAcked.length > 0) {
          falseSaved++;
          sample('false saved', `client ${c.index} said saved; missing acked ${missingAcked.slice(0, 3).join(', ')}`);
        }
        if (missingTyped.length > 0) {
          falseSavedTyped++;
          sample(
            'false saved (typed)',
            `client ${c.index} said saved; missing ${missingTyped.length} typed, e.g. ${missingTyped.slice(0, 3).join(', ')}`,
          );
        }
      });
    });
  };

  /** Records what the server acknowledged, whoever sent it (typed live or re-sent by a handshake). */
  const hookAcks = (c: ModelClient, socket: TandemSocket) => {
    const target = socket as unknown as { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
    const original = target.emitWithAck.bind(socket);
    target.emitWithAck = async (event: string, ...args: unknown[]) => {
      const result = await original(event, ...args);
      const fileId = (args[0] as { fileId?: string } | undefined)?.fileId ?? '';
      if (!isOkAck(result)) {
        const code = (result as { error?: { code?: string } } | undefined)?.error?.code;
        trace(`nack c${c.index} ${event} ${fileId} ${code ?? 'no ack'}`);
        return result;
      }
      const data = result.data as Record<string, unknown>;
      if (event === 'file:edit') {
        const payload = args[0] as { fileId: FileId; update: Uint8Array };
        const tokens = tokensInUpdate(payload.update);
        for (const token of tokens) {
          c.acked.push({ token, fileId: payload.fileId });
          ledger.ackedTokens.set(token, { fileId: payload.fileId, shardId: c.shardId });
        }
        trace(`ack c${c.index} file:edit ${fileId} v${String(data['version'])} ${tokens.join('')}`);
      } else if (event === 'file:sync') {
        trace(`ack c${c.index} file:sync ${fileId} v${String(data['version'])}`);
      } else if (event === 'shard:join') {
        const clock = data['clock'] as { id?: string; base?: number } | undefined;
        const shard = data['shard'] as { lastSyncTimestamp?: number } | undefined;
        trace(
          `ack c${c.index} shard:join v${String(data['version'])} clock=${clock?.id}:${clock?.base} lastSync=${shard?.lastSyncTimestamp}`,
        );
      } else if (event === 'file:create' || event === 'file:rename' || event === 'file:delete') {
        const change = ackedChange(event, data);
        const opId = (args[0] as { opId?: string } | undefined)?.opId;
        const version = typeof data['version'] === 'number' ? data['version'] : 0;
        const { stamps, first } = ledger.recordChange(change, version, `ack c${c.index}`, opId);
        trace(`ack c${c.index} ${event} v${version} ${JSON.stringify(change)} first=${first}`);
        if (first) {
          ledger.ackedTreeOps++;
          fileIdsOf(change).forEach((fileId, i) => c.ackedTree.push({ fileId, stamp: stamps[i] as Stamp, version }));
        }
      }
      return result;
    };
  };

  // ---- setup ---------------------------------------------------------------------------------

  const shardIds: ShardId[] = [];
  for (let s = 0; s < settings.shards; s++) {
    const { shard } = await rest().createShard({ templateId: 'vanilla', name: `model ${settings.seed} ${s}` });
    shardIds.push(shard.id);
    for (const f of shard.files) ledger.recordTemplate(f.id, f.path);
  }
  try {
    for (let i = 0; i < settings.clients; i++) {
      const shardId = shardIds[i % shardIds.length] as ShardId;
      const client = new TandemClient({
        url: cluster.balancerUrl(i % cluster.instances.length),
        token: await options.tokenFor(i),
        socketOptions: { reconnectionDelay: 100, reconnectionDelayMax: 1000 },
      });
      const holder: { model?: ModelClient } = {};
      try {
        await client.connected();
        const session = await client.join(shardId);
        const c = new ModelClient(i, shardId, client, session);
        holder.model = c;
        hookAcks(c, client.socket);
        client.socket.on('tree:changed', (e) => {
          // Marked when it arrives while the session (re)joins: before the join's ack.
          const joining = holder.model?.session.status === 'connecting' ? ' while joining' : '';
          if (e.shardId === shardId) ledger.recordChange(e.change, e.version, `c${i}${joining}`);
          if (e.shardId === shardId) trace(`heard c${i}${joining} v${e.version} ${JSON.stringify(e.change)}`);
        });
        client.socket.on('shard:resync', (e) => {
          if (e.shardId === shardId) trace(`heard c${i} shard:resync`);
        });
        client.socket.on('shard:saved', (e) => {
          if (e.shardId === shardId) trace(`heard c${i} shard:saved v${e.version}`);
        });
        session.on('reset', ({ fileId, text }) => {
          trace(`reset c${i} ${fileId}`);
          holder.model?.texts.set(fileId, text);
        });
        session.on('status', (status) => {
          trace(`status c${i} ${status}`);
          if (status === 'saved') onSaved(c);
        });
        // Unhandled 'error' events are only reported by the SDK; the model counts outcomes itself.
        session.on('error', () => undefined);
        // An edit refused for good: the user gets the text back (the web editor's banner), takes
        // it and dismisses the banner. Tokens handed back are the user's again, not "saved".
        session.on('refused', (refusal) => {
          refusedEdits++;
          for (const token of refusal.localText.match(MODEL_TOKEN) ?? []) c.handedBack.add(token);
          sample('refused edit', `client ${i}: ${refusal.path}: ${refusal.error.code} (${refusal.error.message})`);
          queueMicrotask(() => session.dismissRefusal(refusal.fileId));
        });
        client.on('error', () => undefined);
        clients.push(c);
      } catch (error) {
        await client.close();
        throw error;
      }
    }
    log(`model: seed ${settings.seed}; ${settings.clients} clients on ${settings.shards} shards`);

    // ---- the script ------------------------------------------------------------------------

    const faultSteps = new Map<number, ModelFaultKind>();
    const kinds = [...settings.faultKinds];
    for (let f = 0; f < settings.faults && kinds.length > 0; f++) {
      const kind = f < kinds.length ? (kinds[f] as ModelFaultKind) : (rng.pick(kinds) as ModelFaultKind);
      // Ack drops come early: an edit whose ack never comes waits out the SDK's request timeout
      // (30 s today), which should not be what the settle time measures.
      const [from, to] = kind === 'drop-acks' ? [0.05, 0.25] : [0.15, 0.75];
      let step = Math.floor(rng.between(from, to) * settings.operations);
      while (faultSteps.has(step)) step++;
      faultSteps.set(step, kind);
    }
    let scriptDone = false;
    /** Restarts in flight: a kill waits for them, so the model kills one instance at a time. */
    const restarts = new Set<Promise<void>>();
    /** Crash watchers: instances armed to die after a store, until they do (or are disarmed). */
    const watchers = new Set<Promise<void>>();
    const armed = new Set<number>();
    const track = (set: Set<Promise<void>>, work: Promise<void>) => {
      set.add(work);
      background.add(work);
      void work.then(
        () => set.delete(work),
        () => set.delete(work),
      );
    };
    const liveInstances = () =>
      cluster.instances.map((s, i) => (s.process === undefined ? -1 : i)).filter((i) => i >= 0);

    /** Restarted a while later, as an orchestrator would; its balancer's clients come back to it. */
    const restartLater = (i: number, delayMs: number) =>
      track(
        restarts,
        (async () => {
          await sleep(delayMs, undefined, { signal });
          await cluster.restartInstance(i);
          // Rebalance: its clients moved to another instance at the kill; they come back, so
          // the restarted instance serves someone (and a later crash of it hits clients).
          cluster.instances[i]?.proxy.dropAll();
          log(`model: instance ${i} restarted; its balancer's clients reconnect to it`);
        })(),
      );

    /** `spared`: instances not to arm (one that stored nothing in time: its clients may be stuck). */
    const inject = async (kind: ModelFaultKind, step: number, spared: readonly number[] = []): Promise<void> => {
      // Its own generator: what one fault draws does not shift the rest of the script.
      const rng = Rng.derive(settings.seed, -1 - step);
      switch (kind) {
        case 'instance-kill': {
          await Promise.allSettled([...restarts]);
          const live = liveInstances();
          const victim = rng.pick(live.filter((i) => !armed.has(i)));
          if (victim === undefined || live.length < 2) break;
          const target = await cluster.killInstance(victim);
          faults[kind]++;
          log(`model: killed instance ${victim}; its balancer points at ${target}`);
          restartLater(victim, rng.between(1000, 3000));
          break;
        }
        case 'crash-after-store': {
          await Promise.allSettled([...restarts]);
          const live = liveInstances();
          const victim = rng.pick(live.filter((i) => !armed.has(i) && !spared.includes(i)));
          const process = victim === undefined ? undefined : cluster.instances[victim]?.process;
          if (victim === undefined || process === undefined || live.length < 2) break;
          const store = rng.chance(0.5) ? 'edit' : 'tree';
          const nth = 1 + rng.int(3);
          const delayMs = rng.between(1000, 3000);
          await postFaults(process.url, options.adminToken, { crashAfterStore: { kind: store, nth } });
          armed.add(victim);
          log(`model: instance ${victim} dies right after its next ${nth} ${store} store(s), before broadcasting`);
          // It dies by itself while the script goes on; its balancer then fails over (as after a
          // health check) and the instance is restarted a while later.
          track(
            watchers,
            (async () => {
              const deadline = Date.now() + 10_000;
              const alive = () => process.child.exitCode === null && process.child.signalCode === null;
              while (alive() && Date.now() < deadline && !scriptDone) await sleep(20, undefined, { signal });
              armed.delete(victim);
              if (alive()) {
                await postFaults(process.url, options.adminToken, {});
                log(`model: instance ${victim} stored no ${store} in time; disarmed`);
                // Its clients may all wait out an ack an earlier fault dropped (the SDK's request
                // timeout): another instance is armed instead, while the script runs.
                if (!scriptDone) await inject(kind, step + settings.operations, [...spared, victim]);
                return;
              }
              const target = await cluster.killInstance(victim);
              faults[kind]++;
              log(`model: instance ${victim} crashed after a store; its balancer points at ${target}`);
              restartLater(victim, delayMs);
            })(),
          );
          break;
        }
        case 'redis-flush':
          await cluster.flushRedis();
          faults[kind]++;
          log('model: FLUSHALL');
          break;
        case 'drop-acks': {
          const live = cluster.instances.filter((s) => s.process !== undefined);
          const slot = rng.pick(live);
          const forMs = Math.round(rng.between(1000, 3000));
          if (slot?.process !== undefined) {
            await postFaults(slot.process.url, options.adminToken, {
              dropAcks: { forMs, events: ['file:edit', 'file:create', 'file:rename', 'file:delete'] },
            });
            faults[kind]++;
            log(`model: ${slot.label} drops acks for ${forMs} ms`);
          }
          break;
        }
      }
    };

    const treeOp = (c: ModelClient, kind: TreeOpKind, what: string, run: () => Promise<unknown>) => {
      const offline = !c.online;
      count(`${kind}${offline ? ' (offline)' : ''}`);
      trace(`op c${c.index} ${kind} ${what}${offline ? ' offline' : ''}`);
      const op = run().then(
        () => undefined,
        (error: unknown) => {
          const code = error instanceof TandemError ? error.code : 'DISCONNECTED';
          if (error instanceof TandemError && !isRetryableError(code)) {
            refusedTreeOps++;
            trace(`refused c${c.index} ${kind} ${what} ${code}`);
            sample('refused tree op', `client ${c.index} ${kind} ${what}: ${code} (${error.message})`);
            return;
          }
          if (offline) dropped.offline++;
          else dropped.online++;
          sample(
            'dropped tree op',
            `client ${c.index} ${kind}${offline ? ' made offline' : ''}: ${error instanceof Error ? error.message : String(error)}`,
          );
        },
      );
      pendingTreeOps.add(op);
      void op.finally(() => pendingTreeOps.delete(op));
    };

    for (let step = 0; step < settings.operations; step++) {
      signal.throwIfAborted();
      for (const c of clients) {
        if (c.offlineUntil !== undefined && c.offlineUntil <= step) {
          c.offlineUntil = undefined;
          count('reconnect');
          c.client.socket.connect();
        }
      }
      const fault = faultSteps.get(step);
      if (fault !== undefined) await inject(fault, step);
      // Each step has its own generator, so a step whose draws depend on timing (how many
      // files a client sees, whether it is online) does not shift every later step.
      const rng = Rng.derive(settings.seed, step);
      const c = rng.pick(clients) as ModelClient;
      const roll = rng.next();
      const tree = c.session.tree();
      const open = c.openFiles();
      if (roll < 0.55) {
        if (open.length === 0 || (open.length < 3 && rng.chance(0.1))) {
          const file = rng.pick(tree.filter((f) => !c.texts.has(f.id)));
          if (file !== undefined && c.online && c.session.status !== 'connecting') {
            count('open');
            const opening = c.session.openFile(file.id).then(
              (text) => {
                c.texts.set(file.id, text);
              },
              () => undefined,
            );
            background.add(opening);
          }
        } else {
          const [fileId, text] = rng.pick(open) as [FileId, Y.Text];
          const token = `{m${c.index}.${++c.sequence}}`;
          c.typed.push({ token, fileId });
          text.insert(itemBoundary(text, rng), token);
          trace(`type c${c.index} ${fileId} ${token}${c.online ? '' : ' offline'}`);
          count(c.online ? 'type' : 'type (offline)');
        }
      } else if (roll < 0.67) {
        const path = freshPath(tree, rng);
        treeOp(c, 'create', path, () => c.session.createFile(path, ''));
      } else if (roll < 0.77) {
        const from = rng.pick(renameable(tree));
        if (from !== undefined) {
          const to = freshPath(tree, rng, from.includes('.') ? undefined : 'folder');
          treeOp(c, 'rename', `${from} → ${to}`, () => c.session.rename(from, to));
        }
      } else if (roll < 0.85) {
        const target = rng.pick(renameable(tree));
        if (target !== undefined && tree.length > 3) treeOp(c, 'delete', target, () => c.session.delete(target));
      } else if (roll < 0.9) {
        if (c.online && c.offlineUntil === undefined) {
          count('disconnect');
          c.offlineUntil = step + 5 + rng.int(40);
          c.client.socket.disconnect();
        }
      }
      await sleep(rng.between(settings.stepMs[0], settings.stepMs[1]), undefined, { signal });
    }

    // ---- quiescence ------------------------------------------------------------------------

    scriptDone = true;
    await Promise.allSettled([...watchers]);
    await Promise.allSettled([...restarts]);
    for (const [i, slot] of cluster.instances.entries())
      if (slot.process === undefined) await cluster.restartInstance(i);
    log(`model: script done (${Object.values(operations).reduce((a, b) => a + b, 0)} operations); settling`);
    for (const slot of cluster.instances)
      if (slot.process !== undefined) await postFaults(slot.process.url, options.adminToken, {});
    for (const c of clients) {
      c.offlineUntil = undefined;
      if (!c.online) c.client.socket.connect();
    }
    // Settling is timed from here, once every instance runs again (a restart on a loaded
    // machine may take longer than the settle time itself), and checked at least once.
    const stoppedAt = Date.now();
    const deadline = stoppedAt + settings.settleTimeoutMs;
    let problems: string[] = [];
    let settleSeconds: number | null = null;
    for (let first = true; first || Date.now() < deadline; first = false) {
      signal.throwIfAborted();
      problems = await disagreements(clients, shardIds, rest(), repository, pendingTreeOps.size, (id) =>
        ledger.seen(id as FileId),
      );
      if (problems.length === 0) {
        settleSeconds = (Date.now() - stoppedAt) / 1000;
        break;
      }
      await sleep(250, undefined, { signal });
    }
    // Tree operations still waiting for an outcome have none.
    const unresolved = pendingTreeOps.size;
    if (unresolved > 0) {
      dropped.online += unresolved;
      sample('dropped tree op', `${unresolved} tree operation(s) still without an outcome at the end`);
    }
    const divergences = problems.filter((p) => !p.startsWith('pending')).length;
    for (const p of problems.slice(0, 5)) sample('divergence', p);

    // Nothing acknowledged may be missing from the database at the end.
    let lostTokens = 0;
    let lostTreeOps = 0;
    const final = new Map<ShardId, Shard | null>();
    for (const shardId of shardIds) final.set(shardId, await repository.findById(shardId));
    for (const [token, { fileId, shardId }] of ledger.ackedTokens) {
      if (!holds(final.get(shardId) ?? null, token, fileId)) {
        lostTokens++;
        sample('lost token', `${token} in ${fileId} (${whereIs(final.get(shardId) ?? null, fileId)})`);
      }
    }
    for (const c of clients) {
      const shard = final.get(c.shardId) ?? null;
      for (const { fileId, stamp, version } of c.ackedTree) {
        const dbState = shard?.files.find((f) => f.id === fileId)?.path ?? null;
        if (!ledger.shows(fileId, dbState, stamp, Infinity, version)) {
          lostTreeOps++;
          sample(
            'lost tree op',
            `client ${c.index}: ${fileId} (database: ${dbState ?? 'absent'}; seen: ${ledger.seen(fileId)})`,
          );
        }
      }
    }
    await Promise.all(clients.map((c) => c.idle()));
    for (const verdict of savedVerdicts) verdict();
    return report(settleSeconds, divergences, lostTokens, lostTreeOps);
  } finally {
    await Promise.allSettled([...background]);
    await Promise.allSettled(clients.map((c) => c.client.close()));
  }
}

/**
 * Everything that still disagrees: per client, its tree against the server's and each open
 * file's text against the server's; the database's tree and text against the server's; clients
 * not live or with tree operations pending. Empty when everyone agrees.
 */
async function disagreements(
  clients: readonly ModelClient[],
  shardIds: readonly ShardId[],
  rest: TandemRest,
  repository: IShardRepository,
  pendingTreeOps: number,
  /** What the model saw happen to a file (for the report). */
  seen: (fileId: string) => string,
): Promise<string[]> {
  const treeDiff = (
    tree: ReadonlyArray<{ id: string; path: string }>,
    server: ReadonlyArray<{ id: string; path: string }>,
  ) => describeTreeDiff(tree, server, seen);
  const problems: string[] = [];
  if (pendingTreeOps > 0) problems.push(`pending: ${pendingTreeOps} tree operation(s) without an outcome yet`);
  for (const shardId of shardIds) {
    let server: FileEntry[];
    const serverText = new Map<FileId, string>();
    let stored: Shard | null;
    try {
      server = (await rest.getShard(shardId)).shard.files;
      for (const f of server) serverText.set(f.id, (await rest.readFile(shardId, f.path)).content);
      stored = await repository.findById(shardId);
    } catch (error) {
      problems.push(`shard ${shardId.slice(0, 8)}: could not read (${String(error)})`);
      continue;
    }
    const serverTree = treeKey(server);
    if (treeKey(stored?.files ?? []) !== serverTree)
      problems.push(
        `shard ${shardId.slice(0, 8)}: database tree ≠ server tree (${treeDiff(stored?.files ?? [], server)})`,
      );
    for (const f of stored?.files ?? []) {
      if (serverText.has(f.id) && serverText.get(f.id) !== f.content)
        problems.push(`shard ${shardId.slice(0, 8)}: database text of ${f.path} ≠ server text`);
    }
    for (const c of clients) {
      if (c.shardId !== shardId) continue;
      const status = c.session.status;
      if (!c.online || status !== 'saved') problems.push(`client ${c.index}: ${c.online ? status : 'offline'}`);
      if (treeKey(c.session.tree()) !== serverTree)
        problems.push(`client ${c.index}: tree ≠ server tree (${treeDiff(c.session.tree(), server)})`);
      for (const [fileId, text] of c.openFiles()) {
        const expected = serverText.get(fileId);
        if (expected !== undefined && text.toString() !== expected) {
          const have = new Set(text.toString().match(MODEL_TOKEN) ?? []);
          const lacks = (expected.match(MODEL_TOKEN) ?? []).filter((t) => !have.has(t)).length;
          problems.push(`client ${c.index}: text of ${fileId} ≠ server text (lacks ${lacks} of the server's tokens)`);
        }
      }
    }
  }
  return problems;
}

/** What a tree has that the server's lacks and the other way round, with what the model saw of those files. */
function describeTreeDiff(
  tree: ReadonlyArray<{ id: string; path: string }>,
  server: ReadonlyArray<{ id: string; path: string }>,
  seen: (fileId: string) => string,
): string {
  const mine = new Map(tree.map((f) => [`${f.id}=${f.path}`, f.id]));
  const theirs = new Map(server.map((f) => [`${f.id}=${f.path}`, f.id]));
  const list = (entries: Array<[string, string]>) =>
    entries.map(([entry, id]) => `${entry} [seen: ${seen(id) || 'nothing'}]`).join(', ') || 'nothing';
  const extra = [...mine].filter(([e]) => !theirs.has(e));
  const lacks = [...theirs].filter(([e]) => !mine.has(e));
  return `has ${list(extra)} the server lacks; lacks ${list(lacks)}`;
}

function treeKey(files: ReadonlyArray<{ id: string; path: string }>): string {
  return files
    .map((f) => `${f.id}=${f.path}`)
    .sort()
    .join('\n');
}

async function postFaults(url: string, token: string, plan: unknown): Promise<void> {
  const response = await fetch(`${url}/__test/faults`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(plan),
  });
  if (!response.ok)
    throw new Error(`POST /__test/faults answered ${response.status} (is TANDEM_TEST_FAULTS=true set on the servers?)`);
}

function isOkAck(value: unknown): value is { ok: true; data: unknown } {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === true;
}

function ackedChange(event: 'file:create' | 'file:rename' | 'file:delete', data: Record<string, unknown>): TreeChange {
  if (event === 'file:create') return { kind: 'created', file: data['file'] as FileEntry };
  if (event === 'file:rename')
    return { kind: 'renamed', moves: data['moves'] as Array<{ id: FileId; from: string; to: string }> };
  return { kind: 'deleted', files: data['files'] as FileEntry[] };
}

function fileIdsOf(change: TreeChange): FileId[] {
  switch (change.kind) {
    case 'created':
    case 'replaced':
      return [change.file.id];
    case 'renamed':
      return change.moves.map((m) => m.id);
    case 'deleted':
      return change.files.map((f) => f.id);
  }
}

function tokensInUpdate(update: Uint8Array): string[] {
  const out: string[] = [];
  for (const struct of Y.decodeUpdate(update).structs) {
    if (struct instanceof Y.Item && struct.content instanceof Y.ContentString)
      out.push(...(struct.content.str.match(MODEL_TOKEN) ?? []));
  }
  return out;
}

/** A seeded insert position at an item boundary (never inside a token). */
function itemBoundary(text: Y.Text, rng: Rng): number {
  return itemBoundaryNear(text, rng.int(text.length + 1));
}

/** Model folders and files live under `m/`, away from the template's own files. */
const FOLDERS = ['m/a', 'm/b', 'm/c/d'];

/** Files and model folders a rename or delete may target. */
function renameable(tree: readonly FileEntry[]): string[] {
  const out = new Set<string>();
  for (const f of tree) {
    out.add(f.path);
    for (const folder of FOLDERS) if (f.path.startsWith(`${folder}/`)) out.add(folder);
  }
  return [...out].sort();
}

/** A path not in the tree: a file (or a folder name) in one of the model's folders. */
function freshPath(tree: readonly FileEntry[], rng: Rng, kind: 'file' | 'folder' = 'file'): string {
  const taken = new Set(tree.map((f) => f.path));
  for (;;) {
    const folder = rng.pick(FOLDERS) as string;
    const path = kind === 'folder' ? `m/x${rng.int(1000)}` : `${folder}/f${rng.int(1000)}.txt`;
    if (!taken.has(path) && ![...taken].some((p) => p.startsWith(`${path}/`))) return path;
  }
}

/** Operations of a model run: MODEL_OPERATIONS if set, else `fallback`. */
export function modelOperations(fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['MODEL_OPERATIONS'];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 10) throw new Error(`MODEL_OPERATIONS must be an integer ≥ 10, not ${raw}`);
    return n;
  }
  return fallback;
}

/** Extra time the chaos suite allows the model scenario on top of a fault's usual budget. */
export const MODEL_SCENARIO_EXTRA_MS = 240_000;

/**
 * The chaos suite's `model` scenario: the model on the suite's cluster (its own clients and
 * shards, next to the steady load), long (MODEL_OPERATIONS, default ~100 per second of the
 * join/leave burst, e.g. 2,000 for the full suite) with a fault every ~150 operations. Its row
 * reports operations, faults, divergences and false "saved"; any of them, a lost or dropped
 * change, or no settling fails the row.
 */
export const modelScenario: Fault = {
  name: 'model',
  title: () => 'model: random edits, tree ops, offline work, kills, crashes after a store, flushes, dropped acks',
  async inject(ctx) {
    const seed = modelSeed();
    // About 100 operations per second of the join/leave burst (2,000 in the full suite).
    const operations = modelOperations(Math.round(ctx.settings.burstMs / 10));
    const kinds = modelFaultKinds();
    ctx.log(`model: seed ${seed} (replay with MODEL_SEED=${seed}), ${operations} operations`);
    const repository = createShardRepository({ kind: 'postgres', url: ctx.cluster.directDatabaseUrl, poolSize: 2 });
    let report: ModelReport;
    try {
      report = await runModel(
        {
          seed,
          clients: 8,
          shards: 2,
          operations,
          stepMs: [20, 60],
          faults: Math.max(kinds.length, Math.round(operations / 150)),
          faultKinds: kinds,
          settleTimeoutMs: 60_000,
        },
        {
          cluster: ctx.cluster,
          repository,
          adminToken: await adminToken(),
          tokenFor: (i) => ctx.tokenFor(2000 + i),
          log: ctx.log,
          signal: ctx.signal,
        },
      );
    } finally {
      await repository.close();
    }
    const faultCount = Object.values(report.faults).reduce((a, b) => a + b, 0);
    const faultKinds = Object.entries(report.faults)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ');
    const notes = [
      `seed ${report.seed}: ${report.operationsTotal} operations (${report.ackedTokens} tokens, ${report.ackedTreeOps} tree ops acknowledged)`,
      `${faultCount} faults (${faultKinds})`,
      `divergences ${report.divergences}`,
      `false "saved" ${report.falseSaved} (typed but not saved: ${report.falseSavedTyped}) of ${report.savedChecks} checked`,
      `lost: ${report.lostTokens} tokens, ${report.lostTreeOps} tree ops; dropped tree ops ${report.droppedTreeOps.offline} offline, ${report.droppedTreeOps.online} online`,
      `refused (and handed back): ${report.refusedTreeOps} tree ops, ${report.refusedEdits} edits`,
      report.settleSeconds === null ? 'never settled' : `settled ${report.settleSeconds.toFixed(1)} s after the script`,
    ];
    return {
      endedAt: Date.now(),
      notes,
      problems: report.passed
        ? []
        : [`model failed (MODEL_SEED=${report.seed}): ${report.samples.slice(0, 6).join('; ')}`],
    };
  },
};
