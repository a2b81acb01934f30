import Database from 'libsql';
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

/** The stored history, read from the SQLite file: rows and bytes of checkpoints and their file states. */
function storedHistory(databaseUrl: string, shardId: string) {
  const db = new Database(databaseUrl.slice('sqlite:'.length));
  try {
    const cp = db
      .prepare(
        'select count(*) as n, sum(length(tree)) as tree, sum(length(authors)) as authors from shard_checkpoints where shard_id = ?',
      )
      .get(shardId) as { n: number; tree: number; authors: number };
    const files = db
      .prepare('select count(*) as n, sum(length(ydoc_state)) as bytes from checkpoint_files where shard_id = ?')
      .get(shardId) as { n: number; bytes: number };
    const live = db
      .prepare('select count(*) as n, sum(length(ydoc_state)) as bytes from shard_files where shard_id = ?')
      .get(shardId) as { n: number; bytes: number };
    return {
      checkpoints: cp.n,
      treeBytes: cp.tree,
      authorBytes: cp.authors,
      stateRows: files.n,
      stateBytes: files.bytes,
      shardFiles: live.n,
      shardStateBytes: live.bytes,
    };
  } finally {
    db.close();
  }
}

async function timed(samples: Samples, run: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await run();
  samples.add(performance.now() - t);
}

/**
 * Version history of a 200-file, 2 MB shard (SQLite, one instance, over REST): 1,000 named
 * checkpoints (200 with --quick), each after one file changed; then the bytes each checkpoint
 * stored, and the time to list a page of checkpoints (newest and deep), read a file at a
 * checkpoint, diff a checkpoint against now and against another checkpoint, and restore a file.
 */
export async function historyScenario(ctx: BenchContext, emit: (r: ScenarioResult) => void): Promise<void> {
  const checkpoints = ctx.quick ? 200 : 1000;
  const reads = ctx.quick ? 50 : 200;
  const diffs = ctx.quick ? 10 : 30;
  ctx.log(`history: ${FILES} files of 10 KB, ${checkpoints} checkpoints`);
  const d = await startTandem(ctx, { name: 'history' });
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
    const stored = storedHistory(d.databaseUrl, id);
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
      case: `${FILES} files, 2 MB, ${stored.checkpoints} checkpoints`,
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
