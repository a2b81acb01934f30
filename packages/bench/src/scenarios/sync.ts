import Database from 'libsql';
import * as Y from 'yjs';
import type { Socket } from 'socket.io-client';
import { startTandem, type TandemDeployment } from '../targets/deployments.js';
import { signToken } from '../targets/jwt.js';
import { createShards, metricValue } from '../targets/tandem-rest.js';
import { call, connectSocket } from '../targets/tandem-socket.js';
import { Samples, round } from '../stats.js';
import { pool } from '../generator/run-fanout.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const user = (n: string) => signToken({ sub: `bench-sync-${n}`, role: 'admin' });

/** A Yjs update that inserts `text` at the start of a file (valid whatever the file holds). */
function insertUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('content').insert(0, text);
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** Tracks `shard:saved` notices: when the database holds each shard up to a version. */
class SavedWatch {
  private readonly saved = new Map<string, number>();
  private readonly waiting = new Map<string, Array<{ version: number; resolve: () => void }>>();
  watch(socket: Socket): void {
    socket.on('shard:saved', (e: { shardId: string; version: number }) => {
      const v = Math.max(this.saved.get(e.shardId) ?? 0, e.version);
      this.saved.set(e.shardId, v);
      const list = this.waiting.get(e.shardId) ?? [];
      const left = list.filter((w) => w.version > v);
      for (const w of list) if (w.version <= v) w.resolve();
      if (left.length === 0) this.waiting.delete(e.shardId);
      else this.waiting.set(e.shardId, left);
    });
  }
  /** Resolves when the shard is saved up to `version`. */
  until(shardId: string, version: number): Promise<void> {
    if ((this.saved.get(shardId) ?? 0) >= version) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiting.get(shardId) ?? [];
      list.push({ version, resolve });
      this.waiting.set(shardId, list);
    });
  }
}

function fileIdOf(files: Array<{ id: string; path: string }>, path: string): string {
  const f = files.find((x) => x.path === path);
  if (f === undefined) throw new Error(`no ${path}`);
  return f.id;
}

/** Shards whose database watermark reached the version each was edited to (read from the SQLite file). */
function storedUpTo(d: TandemDeployment, expected: Map<string, number>): number {
  const db = new Database(d.databaseUrl.slice('sqlite:'.length));
  try {
    const rows = db.prepare('select id, last_sync_timestamp as v from shards').all() as Array<{
      id: string;
      v: number;
    }>;
    let n = 0;
    for (const r of rows) if (expected.has(r.id) && Number(r.v) >= expected.get(r.id)!) n++;
    return n;
  } finally {
    db.close();
  }
}

/**
 * Sync, with the default queue settings (limiter 10 jobs / 10 s, batch 100, scan every 2 s):
 * 1. one shard with 100 changed files of 10 KB: time from the last ack to "saved";
 * 2. 1,000 shards with one change each: time until all are in the database;
 * 3. sync lag under a steady edit load: per edit, ack → saved; and tandem_sync_lag_seconds.
 */
export async function syncScenario(ctx: BenchContext, emit: (r: ScenarioResult) => void): Promise<void> {
  const bigFiles = ctx.quick ? 20 : 100;
  const manyShards = ctx.quick ? 50 : 1000;
  const steadyShards = ctx.quick ? 10 : 100;
  const steadySeconds = ctx.quick ? 5 : 30;
  // Edits flow this long before their lag counts: the sync worker threads start (and load their
  // modules) with the first jobs, which took 2.5–5 s each on the benchmark machine.
  const steadyWarmupMs = ctx.quick ? 1000 : 5000;

  // 1. One shard, many changed files.
  {
    ctx.log(`sync: 1 shard × ${bigFiles} files of 10 KB`);
    const d = await startTandem(ctx, { name: 'sync-big' });
    try {
      const url = d.urls[0]!;
      const [id] = await createShards(url, user('setup'), 1);
      const socket = await connectSocket(url, user('big'));
      const watch = new SavedWatch();
      watch.watch(socket);
      await call(socket, 'shard:join', { shardId: id });
      const content = `${'y'.repeat(10_239)}\n`;
      let version = 0;
      for (let f = 0; f < bigFiles; f++) {
        version = (
          await call<{ version: number }>(socket, 'file:create', { shardId: id, path: `data/f${f}.txt`, content })
        ).version;
      }
      const jobsBefore = metricValue(await d.metrics(), 'tandem_sync_job_duration_seconds_sum') ?? 0;
      const countBefore = metricValue(await d.metrics(), 'tandem_sync_job_duration_seconds_count') ?? 0;
      const t = performance.now();
      await Promise.race([watch.until(id!, version), sleep(120_000)]);
      const savedMs = performance.now() - t;
      // The job's duration is observed when its completion event reaches this process, which
      // may be after the room heard "saved": wait for it (a few seconds at most).
      let m = await d.metrics();
      for (let i = 0; i < 50 && (metricValue(m, 'tandem_sync_job_duration_seconds_count') ?? 0) <= countBefore; i++) {
        await sleep(100);
        m = await d.metrics();
      }
      const jobSeconds = (metricValue(m, 'tandem_sync_job_duration_seconds_sum') ?? 0) - jobsBefore;
      const jobs = (metricValue(m, 'tandem_sync_job_duration_seconds_count') ?? 0) - countBefore;
      const stored = storedUpTo(d, new Map([[id!, version]]));
      socket.disconnect();
      emit({
        scenario: 'sync',
        case: `1 shard, ${bigFiles} changed files of 10 KB`,
        target: d.label,
        ok: stored === 1,
        extra: {
          ackToSavedMs: Math.round(savedMs),
          syncJobs: jobs,
          syncJobSeconds: round(jobSeconds, 3),
          summary: `last ack → saved ${Math.round(savedMs)} ms (includes waiting for the 2 s scan); sync job time ${Math.round(jobSeconds * 1000)} ms in ${jobs} job(s)`,
        },
      });
    } finally {
      await d.stop();
    }
  }

  // 2. Many shards with one change each, default limiter.
  {
    ctx.log(`sync: ${manyShards} shards with changes`);
    const d = await startTandem(ctx, { name: 'sync-many' });
    try {
      const url = d.urls[0]!;
      const tCreate = performance.now();
      const ids = await createShards(url, user('setup'), manyShards, 'static', 16);
      const createSeconds = (performance.now() - tCreate) / 1000;
      const perSocket = 50;
      const groups: string[][] = [];
      for (let i = 0; i < ids.length; i += perSocket) groups.push(ids.slice(i, i + perSocket));
      const watch = new SavedWatch();
      const sockets: Socket[] = [];
      const versions = new Map<string, number>();
      const update = insertUpdate('// synced\n');
      const tJoin = performance.now();
      await pool(groups, 10, async (group) => {
        const socket = await connectSocket(url, user(`many-${sockets.length}`));
        sockets.push(socket);
        watch.watch(socket);
        for (const id of group) {
          const joined = await call<{ files: Array<{ id: string; path: string }> }>(socket, 'shard:join', {
            shardId: id,
          });
          const fileId = fileIdOf(joined.files, 'index.html');
          versions.set(
            id,
            (await call<{ version: number }>(socket, 'file:edit', { shardId: id, fileId, update })).version,
          );
        }
      });
      const lastAck = performance.now();
      const editSeconds = (lastAck - tJoin) / 1000;
      const deadline = 180_000;
      let all = false;
      await Promise.race([
        Promise.all(ids.map((id) => watch.until(id, versions.get(id)!))).then(() => (all = true)),
        sleep(deadline),
      ]);
      const savedSeconds = (performance.now() - lastAck) / 1000;
      const stored = storedUpTo(d, versions);
      for (const s of sockets) s.disconnect();
      emit({
        scenario: 'sync',
        case: `${manyShards} shards with changes, default limiter`,
        target: d.label,
        ok: all && stored === manyShards,
        extra: {
          createSeconds: round(createSeconds, 1),
          joinAndEditSeconds: round(editSeconds, 1),
          lastAckToAllSavedSeconds: round(savedSeconds, 1),
          storedInDatabase: stored,
          summary: `all ${manyShards} in the database ${round(savedSeconds, 1)} s after the last edit's ack (joins + edits took ${round(editSeconds, 1)} s); ${stored}/${manyShards} verified in SQLite`,
        },
        notes: all ? [] : [`not all saved within ${deadline / 1000} s`],
      });
    } finally {
      await d.stop();
    }
  }

  // 3. Steady edit load: lag from each edit's ack to its "saved".
  {
    ctx.log(`sync: steady load, ${steadyShards} shards × 1 edit / 500 ms for ${steadySeconds} s`);
    const d = await startTandem(ctx, { name: 'sync-steady' });
    try {
      const url = d.urls[0]!;
      const ids = await createShards(url, user('setup'), steadyShards);
      const watch = new SavedWatch();
      const lag = new Samples();
      const gauge: number[] = [];
      const sockets: Socket[] = [];
      const pending: Array<Promise<void>> = [];
      let stop = false;
      let measuring = false;
      const runShard = async (id: string, i: number) => {
        const socket = await connectSocket(url, user(`steady-${i}`));
        sockets.push(socket);
        watch.watch(socket);
        const joined = await call<{ files: Array<{ id: string; path: string }> }>(socket, 'shard:join', {
          shardId: id,
        });
        const fileId = fileIdOf(joined.files, 'index.html');
        await sleep(Math.random() * 500);
        while (!stop) {
          const { version } = await call<{ version: number }>(socket, 'file:edit', {
            shardId: id,
            fileId,
            update: insertUpdate('x'),
          });
          const acked = performance.now();
          if (measuring) pending.push(watch.until(id, version).then(() => lag.add(performance.now() - acked)));
          await sleep(500);
        }
      };
      const runners = ids.map((id, i) => runShard(id, i));
      await sleep(steadyWarmupMs);
      measuring = true;
      const sampler = setInterval(() => {
        void d.metrics().then((m) => gauge.push(metricValue(m, 'tandem_sync_lag_seconds') ?? 0));
      }, 1000);
      await sleep(steadySeconds * 1000);
      stop = true;
      await Promise.all(runners);
      clearInterval(sampler);
      const drained = await Promise.race([Promise.all(pending).then(() => true), sleep(60_000).then(() => false)]);
      for (const s of sockets) s.disconnect();
      const s = lag.summary();
      emit({
        scenario: 'sync',
        case: `steady load: ${steadyShards} shards × 2 edits/s, ${steadySeconds} s`,
        target: d.label,
        ok: drained,
        latency: s,
        extra: {
          ackToSaved: s,
          syncLagGaugeMaxSeconds: gauge.length === 0 ? null : Math.max(...gauge),
          summary: `edit ack → saved p50/p99/max ${Math.round(s.p50Ms ?? 0)}/${Math.round(s.p99Ms ?? 0)}/${Math.round(s.maxMs ?? 0)} ms; tandem_sync_lag_seconds max ${gauge.length === 0 ? '–' : Math.max(...gauge)} s`,
        },
        notes: drained ? [] : ['some edits were not saved within 60 s of the end'],
      });
    } finally {
      await d.stop();
    }
  }
}
