import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TandemError, TandemRest, type ShardSession } from '@tandem/client-sdk';
import type { CheckpointedEvent, CheckpointSummary, RestoredEvent, ShardId } from '@tandem/protocol';
import type { StoredFile } from '../../src/persistence/index.js';
import { Faults } from '../../src/faults/index.js';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { useTandem, type Harness } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

async function adminRest(t: Harness, i = 0): Promise<TandemRest> {
  return new TandemRest({ url: t.url(i), token: await adminToken() });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TandemError);
  return (error as TandemError).code;
}

async function checkpoints(rest: TandemRest, shardId: ShardId): Promise<CheckpointSummary[]> {
  return (await rest.listCheckpoints(shardId, { limit: 100 })).checkpoints;
}

/** Types `tag`-numbered characters at the end of `text` every few ms until `stop` is aborted. */
async function typeUntil(text: Y.Text, tag: string, stop: AbortSignal): Promise<number> {
  let n = 0;
  while (!stop.aborted) {
    text.insert(text.length, `${tag}${n++};`);
    await sleep(5);
  }
  return n;
}

async function dbText(t: Harness, shardId: ShardId, path: string): Promise<string | undefined> {
  const shard = await t.apps[0]!.app.repository.findById(shardId);
  return shard?.files.find((f) => f.path === path)?.content;
}

describe('version history over REST, the SDK and the sync worker (PostgreSQL)', () => {
  const t = useTandem({ instances: 2, database: 'postgres' });

  it('records the template as checkpoint 1, names versions, lists them page by page, reads and diffs them', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const first = await checkpoints(rest, shardId);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ seq: 1, reason: 'created', label: null });
    expect(first[0]?.authors.map((a) => a.userId)).toEqual(['admin']);
    const template = (await rest.readFile(shardId, 'script.js')).content;

    const a = await t.session(shardId, 0);
    const script = await a.openFile('script.js');
    script.insert(0, '// edited live\n');
    await a.flushed();
    await a.createFile('notes.md', '# notes\n');
    await a.rename('style.css', 'css/site.css');
    await a.delete('favicon.svg');
    // Named at once: unsynced edits are flushed into the checkpoint first.
    const { checkpoint: named } = await rest.nameVersion(shardId, '  first draft ');
    expect(named).toMatchObject({ label: 'first draft', reason: 'named' });

    const atFirst = await rest.readCheckpointFile(shardId, 1, 'script.js');
    expect(atFirst.content).toBe(template);
    expect((await rest.readCheckpointFile(shardId, named.seq, 'script.js')).content).toBe(
      `// edited live\n${template}`,
    );
    const detail = (await rest.getCheckpoint(shardId, named.seq)).checkpoint;
    expect(detail.files.map((f) => f.path)).toEqual(['css/site.css', 'index.html', 'notes.md', 'script.js']);
    // Who edited is on the checkpoints recorded since checkpoint 1 (a delete's sync records one).
    const since = (await checkpoints(rest, shardId)).filter((c) => c.seq > 1);
    expect(since.flatMap((c) => c.authors.map((x) => x.userId))).toContain('admin');

    const diff = await rest.diffCheckpoint(shardId, 1, { to: named.seq });
    expect(diff.files.map((f) => [f.status, f.path, f.oldPath])).toEqual([
      ['renamed', 'css/site.css', 'style.css'],
      ['removed', 'favicon.svg', null],
      ['added', 'notes.md', null],
      ['modified', 'script.js', null],
    ]);
    const scriptDiff = diff.files.find((f) => f.path === 'script.js');
    expect(scriptDiff).toMatchObject({ additions: 1, deletions: 0 });
    expect(scriptDiff?.patch).toContain('+// edited live');

    // Against now: only what changed since, unsynced edits included; and scoped to one path.
    script.insert(0, '// after naming\n');
    await a.flushed();
    const sinceNamed = await rest.diffCheckpoint(shardId, named.seq);
    expect(sinceNamed.files.map((f) => f.path)).toEqual(['script.js']);
    expect(sinceNamed.files[0]?.patch).toContain('+// after naming');
    expect((await rest.diffCheckpoint(shardId, 1, { path: 'notes.md' })).files.map((f) => f.status)).toEqual(['added']);

    // Pages, newest first.
    await rest.nameVersion(shardId, 'second');
    await rest.nameVersion(shardId, 'third');
    const page1 = await rest.listCheckpoints(shardId, { limit: 2 });
    expect(page1.checkpoints.map((c) => c.label)).toEqual(['third', 'second']);
    expect(page1.nextBefore).not.toBeNull();
    const page2 = await rest.listCheckpoints(shardId, { limit: 50, before: page1.nextBefore ?? 0 });
    expect(page2.checkpoints.at(-1)?.seq).toBe(1);
    expect(page2.nextBefore).toBeNull();
  });

  it('tells the room on every instance about each checkpoint recorded: named, before a delete, before a restore', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const a = await t.session(shardId, 0);
    const b = await t.session(shardId, 1);
    const seen: CheckpointedEvent[] = [];
    b.on('checkpointed', (event) => seen.push(event));
    const seenBy = (seq: number) =>
      waitFor(() => seen.find((e) => e.checkpoint.seq === seq), 5000, `checkpoint ${seq}`);

    const { checkpoint: named } = await rest.nameVersion(shardId, 'shared');
    expect(await seenBy(named.seq)).toEqual({ shardId, checkpoint: named });
    (await a.openFile('script.js')).insert(0, '// gone soon\n');
    await a.flushed();
    await a.delete('script.js');
    const beforeDelete = (await checkpoints(rest, shardId))[0]!;
    expect(beforeDelete.reason).toBe('before-delete');
    expect((await seenBy(beforeDelete.seq)).checkpoint).toEqual(beforeDelete);
    await a.createFile('new.txt', 'new\n');
    const restore = await rest.restoreCheckpoint(shardId, named.seq);
    expect((await seenBy(restore.before)).checkpoint.reason).toBe('before-restore');
    // Every checkpoint since the shard's creation was announced (the restore's own delete of
    // new.txt records one too), once each, in order.
    const recorded = (await checkpoints(rest, shardId)).filter((c) => c.seq > 1).reverse();
    await waitFor(() => seen.length === recorded.length, 5000, 'every checkpoint announced');
    expect(seen.map((e) => e.checkpoint)).toEqual(recorded);
  });

  it('restores one file while two people type in it on two instances: everyone converges, later edits survive, the database ends equal', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const template = (await rest.readFile(shardId, 'script.js')).content;
    const a = await t.session(shardId, 0);
    const b = await t.session(shardId, 1);
    const restoredEvents: RestoredEvent[] = [];
    b.on('restored', (event) => restoredEvents.push(event));
    const ta = await a.openFile('script.js');
    const tb = await b.openFile('script.js');
    ta.insert(0, 'BEFORE-RESTORE\n');
    await a.flushed();
    await waitFor(() => tb.toString().startsWith('BEFORE-RESTORE'), 5000, 'b sees a');

    const stop = new AbortController();
    const typing = Promise.all([typeUntil(ta, 'a', stop.signal), typeUntil(tb, 'b', stop.signal)]);
    await sleep(50);
    const result = await rest.restoreCheckpoint(shardId, 1, { path: 'script.js' });
    await sleep(50);
    stop.abort();
    await typing;
    ta.insert(ta.length, '\nLATER-A');
    tb.insert(0, 'LATER-B\n');
    await Promise.all([a.flushed(), b.flushed()]);

    expect(result).toMatchObject({ checkpoint: 1, path: 'script.js', written: 1, created: 0, deleted: 0 });
    await waitFor(() => ta.toString() === tb.toString(), 10_000, 'both editors converge');
    const final = ta.toString();
    expect(final).toContain('LATER-A');
    expect(final).toContain('LATER-B');
    expect(final).not.toContain('BEFORE-RESTORE');
    expect(final).toContain(template.trim().split('\n')[0] ?? '');
    // The state before the restore is a checkpoint: undoing the restore is restoring it.
    expect((await rest.readCheckpointFile(shardId, result.before, 'script.js')).content).toContain('BEFORE-RESTORE');
    await waitFor(() => restoredEvents.length === 1, 5000, 'the room hears of the restore');
    expect(restoredEvents[0]).toMatchObject({
      shardId,
      checkpoint: 1,
      before: result.before,
      path: 'script.js',
      by: { userId: 'admin' },
    });
    await t.apps[0]!.app.flush(shardId);
    await waitFor(async () => (await dbText(t, shardId, 'script.js')) === final, 10_000, 'database equals the editors');

    // Undo: restore the state from before.
    await rest.restoreCheckpoint(shardId, result.before, { path: 'script.js' });
    await waitFor(() => ta.toString().startsWith('BEFORE-RESTORE'), 5000, 'undo reaches the editor');
  });

  it('restores the whole shard while two people type: tree and texts return, typing after it survives', async () => {
    const shardId = await createShard(t.url(0), 'react');
    const rest = await adminRest(t);
    const original = (await rest.getCheckpoint(shardId, 1)).checkpoint.files.map((f) => f.path);
    const a = await t.session(shardId, 0);
    const b = await t.session(shardId, 1);
    await a.createFile('src/extra.js', 'export const extra = 1;\n');
    await a.rename('src/index.css', 'src/styles/index.css');
    await b.delete('vite.config.js');
    const ta = await a.openFile('src/App.jsx');
    const tb = await b.openFile('src/App.jsx');
    ta.insert(0, '// changed\n');
    await Promise.all([a.flushed(), b.flushed()]);

    const stop = new AbortController();
    const typing = Promise.all([typeUntil(ta, 'a', stop.signal), typeUntil(tb, 'b', stop.signal)]);
    await sleep(30);
    const result = await rest.restoreCheckpoint(shardId, 1);
    stop.abort();
    await typing;
    ta.insert(ta.length, '\n// LATER-A\n');
    await Promise.all([a.flushed(), b.flushed()]);

    expect(result).toMatchObject({ path: null, created: 1, deleted: 1, renamed: 1 });
    const paths = (s: ShardSession) => s.tree().map((f) => f.path);
    await waitFor(
      () => paths(a).join() === original.join() && paths(b).join() === original.join(),
      10_000,
      'both trees return to the checkpoint',
    );
    await waitFor(() => ta.toString() === tb.toString() && tb.toString().includes('LATER-A'), 10_000, 'converged');
    expect(ta.toString()).not.toContain('// changed\n');
    const vite = await rest.readFile(shardId, 'vite.config.js');
    expect(vite.content).toBe((await rest.readCheckpointFile(shardId, 1, 'vite.config.js')).content);
    await t.apps[0]!.app.flush(shardId);
    const stored = await t.apps[0]!.app.repository.findById(shardId);
    expect(stored?.files.map((f) => f.path)).toEqual(original);
    expect(stored?.files.find((f) => f.path === 'src/App.jsx')?.content).toBe(ta.toString());
  });

  it('checkpoints a folder before the sync deletes it, and restores the deleted folder', async () => {
    const shardId = await createShard(t.url(0), 'react');
    const rest = await adminRest(t);
    const a = await t.session(shardId, 0);
    const app = await a.openFile('src/App.jsx');
    app.insert(0, '// typed just before the delete\n');
    await a.flushed();
    const srcBefore = a.tree().filter((f) => f.path.startsWith('src/'));
    await a.delete('src');
    // Acknowledged means written through: the database has lost the folder, and the checkpoint
    // recorded before that (with the edit only Redis held) is there already.
    expect(await dbText(t, shardId, 'src/App.jsx')).toBeUndefined();
    const beforeDelete = (await checkpoints(rest, shardId)).find((c) => c.reason === 'before-delete');
    if (beforeDelete === undefined) throw new Error('a checkpoint should be recorded before the delete');
    const held = (await rest.getCheckpoint(shardId, beforeDelete.seq)).checkpoint.files;
    expect(held.filter((f) => f.path.startsWith('src/')).length).toBe(srcBefore.length);

    const result = await rest.restoreCheckpoint(shardId, beforeDelete.seq, { path: 'src' });
    expect(result.created).toBe(srcBefore.length);
    await waitFor(() => a.tree().filter((f) => f.path.startsWith('src/')).length === srcBefore.length, 5000);
    expect((await rest.readFile(shardId, 'src/App.jsx')).content.startsWith('// typed just before the delete')).toBe(
      true,
    );
    expect(await refusal(rest.restoreCheckpoint(shardId, beforeDelete.seq, { path: 'nope' }))).toBe('FILE_NOT_FOUND');
  });

  it('keeps binary files: their bytes in checkpoints, marked in diffs, and put back by a restore (written through)', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const a = await t.session(shardId, 0);
    const v1 = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 255]);
    const v2 = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 9, 9]);
    await rest.uploadFile(shardId, 'img/logo.png', v1, 'image/png');
    const { checkpoint: named } = await rest.nameVersion(shardId, 'with logo');
    const detail = (await rest.getCheckpoint(shardId, named.seq)).checkpoint;
    expect(detail.files.find((f) => f.path === 'img/logo.png')).toMatchObject({ kind: 'binary' });
    const read = await rest.readCheckpointBinaryFile(shardId, named.seq, 'img/logo.png');
    expect(read.bytes).toEqual(v1);
    expect(read.contentType).toBe('image/png');

    // New bytes, then deleted: the diff marks the file, the restore brings its first bytes back.
    await rest.uploadFile(shardId, 'img/logo.png', v2, 'image/png');
    const changed = await rest.diffCheckpoint(shardId, named.seq);
    expect(changed.files).toEqual([
      expect.objectContaining({
        status: 'modified',
        path: 'img/logo.png',
        binary: true,
        additions: 0,
        deletions: 0,
        patch: 'Binary files a/img/logo.png and b/img/logo.png differ\n',
      }),
    ]);
    await a.delete('img');
    expect((await rest.diffCheckpoint(shardId, named.seq)).files.map((f) => [f.status, f.binary])).toEqual([
      ['removed', true],
    ]);
    const result = await rest.restoreCheckpoint(shardId, named.seq, { path: 'img/logo.png' });
    expect(result.created).toBe(1);
    // The restored file is in the database at once (a file operation), and its bytes come with the sync.
    const stored = await t.apps[0]!.app.repository.findById(shardId);
    expect(stored?.files.find((f) => f.path === 'img/logo.png')?.kind).toBe('binary');
    expect((await rest.readBinaryFile(shardId, 'img/logo.png')).bytes).toEqual(v1);
    await waitFor(() => a.tree().some((f) => f.path === 'img/logo.png' && f.kind === 'binary'), 5000, 'a sees it');
    await t.apps[0]!.app.flush(shardId);
    const synced = (await t.apps[0]!.app.repository.findById(shardId))?.files.find((f) => f.path === 'img/logo.png');
    expect(new Uint8Array(synced?.ydocState ?? [])).toEqual(v1);
    expect((await rest.diffCheckpoint(shardId, named.seq)).files).toEqual([]);
  });

  it('lets viewers browse but not restore or name versions, and refuses bad input with stable codes', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const viewer = new TandemRest({ url: t.url(1), token: await tokenFor({ shards: { [shardId]: 'read' } }) });
    const stranger = new TandemRest({ url: t.url(1), token: await tokenFor({ shards: {} }) });
    expect((await checkpoints(viewer, shardId)).length).toBe(1);
    expect((await viewer.readCheckpointFile(shardId, 1, 'index.html')).content.length).toBeGreaterThan(0);
    expect((await viewer.diffCheckpoint(shardId, 1)).files).toEqual([]);
    expect(await refusal(viewer.restoreCheckpoint(shardId, 1))).toBe('READ_ONLY');
    expect(await refusal(viewer.nameVersion(shardId, 'mine'))).toBe('READ_ONLY');
    expect(await refusal(stranger.listCheckpoints(shardId))).toBe('FORBIDDEN');
    expect(await refusal(stranger.restoreCheckpoint(shardId, 1))).toBe('FORBIDDEN');

    const rest = await adminRest(t);
    expect(await refusal(rest.getCheckpoint(shardId, 99))).toBe('CHECKPOINT_NOT_FOUND');
    expect(await refusal(rest.restoreCheckpoint(shardId, 99))).toBe('CHECKPOINT_NOT_FOUND');
    expect(await refusal(rest.readCheckpointFile(shardId, 1, 'missing.js'))).toBe('FILE_NOT_FOUND');
    expect(await refusal(rest.nameVersion(shardId, '   '))).toBe('VALIDATION_FAILED');
    expect(await refusal(rest.listCheckpoints(shardId, { limit: 1000 }))).toBe('VALIDATION_FAILED');
    expect(await refusal(rest.diffCheckpoint(shardId, 1, { path: '../etc/passwd' }))).toBe('PATH_INVALID');
    expect(await refusal(rest.listCheckpoints('00000000-0000-4000-8000-000000000000'))).toBe('SHARD_NOT_FOUND');
    const raw = await fetch(`${t.url(0)}/shards/${shardId}/checkpoints/abc`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(raw.status).toBe(404);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe('CHECKPOINT_NOT_FOUND');
    const openapi = (await (await fetch(`${t.url(0)}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining([
        '/shards/{id}/checkpoints',
        '/shards/{id}/checkpoints/{seq}',
        '/shards/{id}/checkpoints/{seq}/files/{*}',
        '/shards/{id}/checkpoints/{seq}/diff',
        '/shards/{id}/checkpoints/{seq}/restore',
      ]),
    );
  });

  it('records a checkpoint with its authors when the last collaborator leaves', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const client = await t.client(1, await tokenFor({ sub: 'ada', name: 'Ada', shards: { [shardId]: 'write' } }));
    const session = await client.join(shardId);
    (await session.openFile('index.html')).insert(0, '<!-- ada -->\n');
    await session.flushed();
    await session.leave();
    const left = await waitFor(
      async () => (await checkpoints(rest, shardId)).find((c) => c.reason === 'leave'),
      10_000,
      'a checkpoint on the last leave',
    );
    expect(left.authors).toEqual([{ userId: 'ada', name: 'Ada' }]);
    expect(left.filesChanged).toBe(1);
    expect((await rest.readCheckpointFile(shardId, left.seq, 'index.html')).content.startsWith('<!-- ada -->')).toBe(
      true,
    );
  });

  it('stores one file’s state for a 200-file shard with one file changed', async () => {
    const app = t.apps[0]!.app;
    const rest = await adminRest(t);
    const shardId = await createShard(t.url(0), 'static');
    const base = (await app.repository.findById(shardId))!;
    // 200 files of about 10 KB each (2 MB), written as one shard.
    const files: StoredFile[] = Array.from({ length: 200 }, (_, i) => {
      const content = `// file ${i}\n${'export const line = "0123456789abcdefghijklmnopqrstuvwxyz";\n'.repeat(170)}`;
      const doc = new Y.Doc();
      doc.getText('content').insert(0, content);
      const state = Y.encodeStateAsUpdate(doc);
      doc.destroy();
      return {
        id: `file${String(i).padStart(4, '0')}xx` as StoredFile['id'],
        path: `src/m${i}.js`,
        content,
        ydocState: state,
        version: 1,
        updatedAt: new Date(),
      };
    });
    await app.repository.save({ ...base, files, lastSyncTimestamp: 1 });
    const full = await rest.nameVersion(shardId, 'all 200');
    expect(full.checkpoint.filesChanged).toBe(200);
    const total = files.reduce((s, f) => s + f.ydocState.byteLength, 0);
    expect(full.checkpoint.storedBytes).toBe(total);

    await rest.writeFile(shardId, 'src/m7.js', `${files[7]!.content}// one more line\n`);
    const one = await rest.nameVersion(shardId, 'one changed');
    expect(one.checkpoint.filesChanged).toBe(1);
    const stored = (await app.repository.findById(shardId))!.files.find((f) => f.path === 'src/m7.js')!;
    expect(one.checkpoint.storedBytes).toBe(stored.ydocState.byteLength);
    expect(one.checkpoint.storedBytes).toBeLessThan(total / 100);
    console.info(
      `[history] 200-file shard: full checkpoint ${total} B of Yjs state; one file changed: ${one.checkpoint.storedBytes} B`,
    );
    expect((await rest.readCheckpointFile(shardId, one.checkpoint.seq, 'src/m8.js')).content).toBe(files[8]!.content);
  });
});

describe('a restore and the edits stored while it runs (SQLite)', () => {
  const faults = new Faults(() => {
    throw new Error('this test crashes nothing');
  });
  const t = useTandem({ database: 'sqlite', faults });

  it('keeps an edit and a new file stored after the pre-restore checkpoint: in the live document, or in that checkpoint', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const template = (await rest.readFile(shardId, 'script.js')).content;
    const a = await t.session(shardId);
    const b = await t.session(shardId);
    const ta = await a.openFile('script.js');
    const tb = await b.openFile('script.js');
    ta.insert(0, 'BEFORE\n');
    await a.flushed();

    // Exactly inside the window: after the pre-restore checkpoint, before the restore reads the
    // live state. Stored (acknowledged) edits, in no checkpoint.
    faults.duringNextRestore(async () => {
      ta.insert(ta.length, '\n// IN-WINDOW\n');
      await a.flushed();
      await b.createFile('window.txt', 'made in the window\n');
    });
    const result = await rest.restoreCheckpoint(shardId, 1);

    const beforeText = (await rest.readCheckpointFile(shardId, result.before, 'script.js')).content;
    expect(beforeText).toBe(`BEFORE\n${template}`);
    await waitFor(
      () => ta.toString() === tb.toString() && !ta.toString().includes('BEFORE'),
      10_000,
      'both see the restore',
    );
    expect(ta.toString()).toBe(`${template}\n// IN-WINDOW\n`);
    expect((await rest.readFile(shardId, 'window.txt')).content).toBe('made in the window\n');
    await t.apps[0]!.app.flush(shardId);
    expect(await dbText(t, shardId, 'script.js')).toBe(ta.toString());
    expect(await dbText(t, shardId, 'window.txt')).toBe('made in the window\n');
  });
  it('keeps the bytes of a binary file replaced after the pre-restore checkpoint, and restores the others', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const png = (last: number) => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, last]);
    const bytesOf = async (path: string) => [...(await rest.readBinaryFile(shardId, path)).bytes];
    await rest.uploadFile(shardId, 'a.png', png(1), 'image/png');
    await rest.uploadFile(shardId, 'b.png', png(1), 'image/png');
    const { checkpoint } = await rest.nameVersion(shardId, 'first images');
    await rest.uploadFile(shardId, 'a.png', png(2), 'image/png');
    await rest.uploadFile(shardId, 'b.png', png(2), 'image/png');

    faults.duringNextRestore(async () => {
      await rest.uploadFile(shardId, 'a.png', png(3), 'image/png');
    });
    await rest.restoreCheckpoint(shardId, checkpoint.seq);
    // b.png was replaced before the restore's checkpoint (it is in it): restored.
    expect(await bytesOf('b.png')).toEqual([...png(1)]);
    // a.png was replaced after it: those bytes are in no checkpoint, so they stay.
    expect(await bytesOf('a.png')).toEqual([...png(3)]);
  });
});

describe('checkpoints by interval (SQLite)', () => {
  const t = useTandem({ database: 'sqlite', env: { HISTORY_INTERVAL_MS: '1500' } });

  it('records interval checkpoints while people edit, at most one per interval', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    const session = await t.session(shardId);
    const seen: CheckpointedEvent[] = [];
    session.on('checkpointed', (event) => seen.push(event));
    const text = await session.openFile('script.js');
    const started = Date.now();
    const interval = await waitFor(
      async () => {
        text.insert(0, 'x');
        await session.flushed();
        await sleep(100);
        const found = (await checkpoints(rest, shardId)).filter((c) => c.reason === 'interval');
        return found.length >= 2 ? found : undefined;
      },
      20_000,
      'two interval checkpoints',
    );
    const elapsedMs = Date.now() - started;
    // At most one per interval since the shard was created (checkpoint 1).
    expect(interval.length).toBeLessThanOrEqual(Math.floor(elapsedMs / 1500) + 1);
    const times = interval.map((c) => Date.parse(c.createdAt)).sort();
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1400);
    // Recorded by the sync worker thread, announced to the room.
    await waitFor(
      () => interval.every((c) => seen.some((e) => e.checkpoint.seq === c.seq && e.checkpoint.reason === 'interval')),
      5000,
      'the interval checkpoints announced',
    );
  });
});

describe('retention pruning in the background (SQLite)', () => {
  const t = useTandem({
    database: 'sqlite',
    env: { HISTORY_KEEP_ALL_DAYS: '0', HISTORY_KEEP_DAILY_DAYS: '0', HISTORY_PRUNE_INTERVAL_MS: '1000' },
  });
  const PATHS = ['index.html', 'script.js', 'style.css'];

  it('prunes unnamed checkpoints through the scheduled job, keeps named and newest, and reads stay whole', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const rest = await adminRest(t);
    await rest.writeFile(shardId, 'script.js', 'one\n');
    const named = (await rest.nameVersion(shardId, 'keep me')).checkpoint;
    await rest.writeFile(shardId, 'index.html', '<p>two</p>\n');
    await rest.restoreCheckpoint(shardId, named.seq, { path: 'style.css' });
    await rest.writeFile(shardId, 'style.css', 'p { color: red }\n');
    const last = await rest.restoreCheckpoint(shardId, named.seq, { path: 'index.html' });
    expect(last.before).toBeGreaterThan(named.seq + 1);
    const live = await Promise.all(PATHS.map(async (p) => (await rest.readFile(shardId, p)).content));
    const textsAt = (seq: number) =>
      Promise.all(PATHS.map(async (p) => (await rest.readCheckpointFile(shardId, seq, p)).content));

    // Nobody is in the shard: the last leave records the live state; then the prune job leaves
    // only named checkpoints and the newest (keep-all 0, keep-daily 0).
    const left = await waitFor(
      async () => {
        const list = await checkpoints(rest, shardId);
        const newest = list[0]!;
        const settled =
          list.every((c) => c.label !== null || c.seq === newest.seq) &&
          JSON.stringify(await textsAt(newest.seq)) === JSON.stringify(live);
        return settled ? list : undefined;
      },
      15_000,
      'the leave checkpoint and the prune job',
    );
    expect(left.map((c) => c.label ?? c.reason)).toEqual([left[0]!.reason, 'keep me']);
    expect(left.some((c) => c.seq === 1)).toBe(false);
    expect(left[0]!.filesChanged).toBeGreaterThanOrEqual(2);
    expect(await textsAt(named.seq)).toEqual([expect.any(String), 'one\n', expect.any(String)]);
    expect(await textsAt(left[0]!.seq)).toEqual(live);
  });
});
