import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TandemRest } from '@tandem/client-sdk';
import type { FileId, ShardId } from '@tandem/protocol';
import type { App } from '../../src/app.js';
import type { StoredFile } from '../../src/persistence/index.js';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';

const FILES = 200;
const UPDATES_PER_FILE = 150;
const LINE = 'export const line = "0123456789abcdefghijklmnopqrstuvwxyz";\n';

/** The longest the event loop was blocked (ms) while `run` ran, sampled every 5 ms. */
async function longestBlockMs(run: () => Promise<unknown>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    await run();
  } finally {
    histogram.disable();
  }
  return Math.round(histogram.max / 1e6);
}

/**
 * A 200-file, 2 MB shard in the database (checkpoint "all") and open in Redis with an unsynced
 * backlog of 150 one-character edits per file (30,000 updates), stored straight into the cache.
 */
async function backloggedShard(app: App, url: string, rest: TandemRest): Promise<{ shardId: ShardId; all: number }> {
  const shardId = await createShard(url, 'static');
  const base = (await app.repository.findById(shardId))!;
  const docs: Y.Doc[] = [];
  const files: StoredFile[] = Array.from({ length: FILES }, (_, i) => {
    const content = `// file ${i}\n${LINE.repeat(170)}`;
    const doc = new Y.Doc();
    doc.getText('content').insert(0, content);
    docs.push(doc);
    return {
      id: `file${String(i).padStart(4, '0')}xx` as FileId,
      path: `src/m${i}.js`,
      content,
      ydocState: Y.encodeStateAsUpdate(doc),
      version: 1,
      updatedAt: new Date(),
    };
  });
  await app.repository.save({ ...base, files, lastSyncTimestamp: 1 });
  const all = (await rest.nameVersion(shardId, 'all')).checkpoint.seq;
  await app.cache.loader.ensureLoaded(shardId);
  await Promise.all(
    files.map(async (file, i) => {
      const doc = docs[i]!;
      const updates: Uint8Array[] = [];
      doc.on('update', (update: Uint8Array) => updates.push(update));
      const text = doc.getText('content');
      for (let n = 0; n < UPDATES_PER_FILE; n++) text.insert((n * 37) % text.length, 'x');
      doc.destroy();
      for (const update of updates) await app.cache.files.appendUpdate(shardId, file.id, update);
    }),
  );
  return { shardId, all };
}

describe('version history keeps the event loop free for a shard with a large backlog (PostgreSQL)', () => {
  // No sync unless asked: the backlog stays in Redis.
  const t = useTandem({ database: 'postgres', env: { SYNC_INTERVAL_MS: '3600000' } });

  it('merges the before-delete checkpoint of 200 backlogged files and diffs the whole shard off the event loop', async () => {
    const app = t.apps[0]!.app;
    const rest = new TandemRest({ url: t.url(0), token: await adminToken() });
    const { shardId, all } = await backloggedShard(app, t.url(0), rest);
    // The pool's thread starts on first use; that start is not what is measured.
    await rest.diffCheckpoint(shardId, all, { path: 'src/m1.js' });

    const deleteBlockMs = await longestBlockMs(() => rest.deleteFile(shardId, 'src/m0.js'));
    const beforeDelete = (await rest.listCheckpoints(shardId, { limit: 1 })).checkpoints[0]!;
    expect(beforeDelete).toMatchObject({ reason: 'before-delete', filesChanged: FILES });
    const at = await rest.readCheckpointFile(shardId, beforeDelete.seq, 'src/m5.js');
    expect(at.content.length).toBe(`// file 5\n${LINE.repeat(170)}`.length + UPDATES_PER_FILE);

    let changed = 0;
    const diffBlockMs = await longestBlockMs(async () => {
      changed = (await rest.diffCheckpoint(shardId, all)).files.length;
    });
    expect(changed).toBe(FILES);
    console.info(
      `[history] ${FILES} files x ${UPDATES_PER_FILE} unsynced updates: longest event-loop block during the delete ${deleteBlockMs} ms, during the whole-shard diff ${diffBlockMs} ms (load ${(
        await import('node:os')
      )
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})`,
    );
    expect(deleteBlockMs).toBeLessThan(100);
    expect(diffBlockMs).toBeLessThan(100);
  });
});
