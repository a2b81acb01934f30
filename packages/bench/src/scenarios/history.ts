import { randomUUID } from 'node:crypto';
import Database from 'libsql';
import pg from 'pg';
import { TandemRest } from '@tandem/client-sdk';
import { startTandem } from '../targets/deployments.js';
import { signToken } from '../targets/jwt.js';
import { createShards } from '../targets/tandem-rest.js';
import { Samples, round } from '../stats.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';

const FILES = 200;
/** About 10 KB per file: 2 MB of text in the shard. */
const LINE = 'export const value = "0123456789abcdefghijklmnopqrstuvwxyz0123456789";\n';
const LINES_PER_FILE = Math.ceil(10_240 / LINE.length);

function fileText(i: number, edit: number): string {
  return `// file ${i}, edit ${edit}\n${LINE.repeat(LINES_PER_FILE)}`;
}

type StoredHistory = {
  checkpoints: number;
  treeBytes: number;
  authorBytes: number;
  stateRows: number;
  stateBytes: number;
  shardFiles: number;
  shardStateBytes: number;
};

/** The database one run of the scenario uses: its URL, how to read the stored history, how to drop it. */
type BenchDatabase = {
  label: 'SQLite' | 'PostgreSQL';
  /** For startTandem; undefined: its own temp SQLite file. */
  url: string | undefined;
  storedHistory(databaseUrl: string, shardId: string): Promise<StoredHistory>;
  drop(): Promise<void>;
};

const HISTORY_SQL = {
  checkpoints:
    'select count(*) as n, sum(LEN(tree)) as tree, sum(LEN(authors)) as authors from shard_checkpoints where shard_id = $1',
  files: 'select count(*) as n, sum(LEN(ydoc_state)) as bytes from checkpoint_files where shard_id = $1',
  live: 'select count(*) as n, sum(LEN(ydoc_state)) as bytes from shard_files where shard_id = $1',
};

function toStoredHistory(
  cp: { n: unknown; tree: unknown; authors: unknown },
  files: { n: unknown; bytes: unknown },
  live: { n: unknown; bytes: unknown },
): StoredHistory {
  return {
    checkpoints: Number(cp.n),
    treeBytes: Number(cp.tree),
    authorBytes: Number(cp.authors),
    stateRows: Number(files.n),
    stateBytes: Number(files.bytes),
    shardFiles: Number(live.n),
    shardStateBytes: Number(live.bytes),
  };
}

/** The deployment's own temp SQLite file, read with libsql. */
const sqlite: BenchDatabase = {
  label: 'SQLite',
  url: undefined,
  storedHistory: async (databaseUrl, shardId) => {
    const db = new Database(databaseUrl.slice('sqlite:'.length));
    try {
      const query = (sql: string) =>
        db.prepare(sql.replaceAll('LEN(', 'length(').replace('$1', '?')).get(shardId) as Record<string, unknown>;
      return toStoredHistory(
        query(HISTORY_SQL.checkpoints) as { n: unknown; tree: unknown; authors: unknown },
        query(HISTORY_SQL.files) as { n: unknown; bytes: unknown },
        query(HISTORY_SQL.live) as { n: unknown; bytes: unknown },
      );
    } finally {
      db.close();
    }
  },
  drop: async () => undefined,
};

/** A throwaway schema in the PostgreSQL database at BENCH_DATABASE_URL (default: the test database), dropped after. */
async function postgres(): Promise<BenchDatabase> {
  const base = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_history_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = async <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  };
  await admin((c) => c.query(`create schema "${schema}"`));
  return {
    label: 'PostgreSQL',
    url: `${base}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    storedHistory: (_url, shardId) =>
      admin(async (c) => {
        await c.query(`set search_path to "${schema}"`);
        const query = async (sql: string) =>
          (await c.query(sql.replaceAll('LEN(', 'octet_length('), [shardId])).rows[0] as Record<string, unknown>;
        return toStoredHistory(
          (await query(HISTORY_SQL.checkpoints)) as { n: unknown; tree: unknown; authors: unknown },
          (await query(HISTORY_SQL.files)) as { n: unknown; bytes: unknown },
          (await query(HISTORY_SQL.live)) as { n: unknown; bytes: unknown },
        );
      }),
    drop: () => admin(async (c) => void (await c.query(`drop schema if exists "${schema}" cascade`))),
  };
}

async function timed(samples: Samples, run: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await run();
  samples.add(performance.now() - t);
}

/**
 * Version history of a 200-file, 2 MB shard (one instance, over REST), on SQLite and then on
 * PostgreSQL (a throwaway schema): 1,000 named checkpoints (200 with --quick), each after one file
 * changed; then the bytes each checkpoint stored, and the time to list a page of checkpoints
 * (newest and deep), read a file at a checkpoint, diff a checkpoint against now and against
 * another checkpoint, and restore a file.
 */
export async function historyScenario(ctx: BenchContext, emit: (r: ScenarioResult) => void): Promise<void> {
  await historyOn(ctx, emit, sqlite);
  let pgDatabase: BenchDatabase;
  try {
    pgDatabase = await postgres();
  } catch (error) {
    ctx.log(`history: PostgreSQL not reachable (${String(error)}); set BENCH_DATABASE_URL. Skipped.`);
    return;
  }
  try {
    await historyOn(ctx, emit, pgDatabase);
  } finally {
    await pgDatabase.drop();
  }
}

async function historyOn(ctx: BenchContext, emit: (r: ScenarioResult) => void, database: BenchDatabase): Promise<void> {
  const checkpoints = ctx.quick ? 200 : 1000;
  const reads = ctx.quick ? 50 : 200;
  const diffs = ctx.quick ? 10 : 30;
  ctx.log(`history (${database.label}): ${FILES} files of 10 KB, ${checkpoints} checkpoints`);
  const d = await startTandem(ctx, {
    name: `history-${database.label.toLowerCase()}`,
    ...(database.url === undefined ? {} : { databaseUrl: database.url }),
  });
  try {
    const url = d.urls[0]!;
    const token = signToken({ sub: 'bench-history', role: 'admin' });
    const rest = new TandemRest({ url, token });
    const [shardId] = await createShards(url, token, 1);
    const id = shardId!;
    // Exactly the 200 files: the template's own go first.
    for (const file of (await rest.getShard(id)).shard.files) await rest.deleteFile(id, file.path);
    for (let i = 0; i < FILES; i++) await rest.writeFile(id, `src/m${i}.js`, fileText(i, 0));
    const full = (await rest.nameVersion(id, 'all files')).checkpoint;

    const create = new Samples();
    const perCheckpoint: number[] = [];
    for (let c = 1; c < checkpoints; c++) {
      const file = c % FILES;
      await rest.writeFile(id, `src/m${file}.js`, fileText(file, c));
      await timed(create, async () => {
        perCheckpoint.push((await rest.nameVersion(id, `v${c}`)).checkpoint.storedBytes);
      });
    }
    const stored = await database.storedHistory(d.databaseUrl, id);
    const last = (await rest.listCheckpoints(id, { limit: 1 })).checkpoints[0]!.seq;

    const listNewest = new Samples();
    const listDeep = new Samples();
    const read = new Samples();
    for (let i = 0; i < reads; i++) {
      await timed(listNewest, () => rest.listCheckpoints(id, { limit: 50 }));
      await timed(listDeep, () => rest.listCheckpoints(id, { limit: 50, before: 1 + ((i * 7919) % last) }));
      const seq = full.seq + ((i * 104_729) % (last - full.seq + 1));
      await timed(read, () => rest.readCheckpointFile(id, seq, `src/m${(i * 31) % FILES}.js`));
    }
    const diffNow = new Samples();
    const diffPair = new Samples();
    let changedFiles = 0;
    for (let i = 0; i < diffs; i++) {
      const seq = full.seq + ((i * 7919) % (last - full.seq));
      await timed(diffNow, async () => {
        changedFiles = (await rest.diffCheckpoint(id, seq)).files.length;
      });
      await timed(diffPair, () => rest.diffCheckpoint(id, seq, { to: Math.min(last, seq + 100) }));
    }
    const restore = new Samples();
    for (let i = 0; i < 5; i++) {
      await timed(restore, () => rest.restoreCheckpoint(id, full.seq, { path: `src/m${i + 1}.js` }));
    }
    const incremental = perCheckpoint.reduce((a, b) => a + b, 0) / Math.max(1, perCheckpoint.length);
    const summary = [
      `${stored.checkpoints} checkpoints of a shard whose ${stored.shardFiles} files hold ${stored.shardStateBytes} B of Yjs state: ${Math.round(incremental)} B of state each + ${Math.round(stored.treeBytes / stored.checkpoints)} B of tree`,
      `total ${round((stored.stateBytes + stored.treeBytes) / 1048576)} MiB`,
      `name p50/p99 ${create.summary().p50Ms}/${create.summary().p99Ms} ms`,
      `list newest ${listNewest.summary().p50Ms}/${listNewest.summary().p99Ms} ms, deep ${listDeep.summary().p50Ms}/${listDeep.summary().p99Ms} ms`,
      `read a file ${read.summary().p50Ms}/${read.summary().p99Ms} ms`,
      `diff vs now (${changedFiles} files changed) ${diffNow.summary().p50Ms}/${diffNow.summary().p99Ms} ms, vs checkpoint ${diffPair.summary().p50Ms}/${diffPair.summary().p99Ms} ms`,
      `restore a file ${restore.summary().p50Ms}/${restore.summary().p99Ms} ms`,
    ].join('; ');
    emit({
      scenario: 'history',
      case: `${FILES} files, 2 MB, ${stored.checkpoints} checkpoints, ${database.label}`,
      target: d.label,
      // Every named checkpoint recorded, each storing about one file's state.
      ok: stored.checkpoints >= checkpoints && incremental < stored.shardStateBytes / 50,
      latency: read.summary(),
      extra: {
        summary,
        shardStateBytes: stored.shardStateBytes,
        bytesPerCheckpoint: Math.round(incremental),
        treeBytesPerCheckpoint: Math.round(stored.treeBytes / stored.checkpoints),
        stored,
        nameMs: create.summary(),
        listNewestMs: listNewest.summary(),
        listDeepMs: listDeep.summary(),
        readFileMs: read.summary(),
        diffNowMs: diffNow.summary(),
        diffCheckpointsMs: diffPair.summary(),
        restoreFileMs: restore.summary(),
      },
    });
  } finally {
    await d.stop();
  }
}
