import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { unzipSync } from 'fflate';
import type { ErrorBody, FileEntry, ShardDetail, ShardId, TreeChange } from '@tandem/protocol';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';
import { connectSocket, emitOutcome } from '../fuzz/fuzz-support.js';

/** A tiny valid PNG (1×1, red), then random bytes so no two uploads are alike. */
function png(extra = 64): Uint8Array {
  const head = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
    'base64',
  );
  return new Uint8Array(Buffer.concat([head, randomBytes(extra)]));
}

async function put(
  url: string,
  shardId: ShardId,
  path: string,
  body: Uint8Array | string,
  type: string,
  token?: string,
) {
  return fetch(`${url}/shards/${shardId}/files/${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token ?? (await adminToken())}`, 'content-type': type },
    body: typeof body === 'string' ? body : new Blob([body as Uint8Array<ArrayBuffer>]),
  });
}

async function errorOf(res: Response): Promise<ErrorBody> {
  return ((await res.json()) as { error: ErrorBody }).error;
}

describe.each(['postgres', 'sqlite'] as const)('binary files on %s', (database) => {
  // The tests drive syncs themselves (app.flush), so no periodic scheduler.
  const t = useTandem({ database, env: { SYNC_INTERVAL_MS: '3600000' } });

  async function rest(): Promise<TandemRest> {
    return new TandemRest({ url: t.url(), token: await adminToken() });
  }

  async function storedFile(shardId: ShardId, path: string) {
    const shard = await t.apps[0]!.app.repository.findById(shardId);
    return shard?.files.find((f) => f.path === path);
  }

  it('uploads, serves with its content type, replaces, and refuses to mix text and bytes', async () => {
    const shardId = await createShard(t.url(), 'static');
    const api = await rest();
    const bytes = png();
    const created = await api.uploadFile(shardId, 'img/logo.png', bytes, 'image/png');
    expect(created.created).toBe(true);
    expect(created.file).toMatchObject({ path: 'img/logo.png', kind: 'binary' });

    const res = await fetch(`${t.url()}/shards/${shardId}/files/img/logo.png`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-tandem-file-kind')).toBe('binary');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);

    const { shard } = await api.getShard(shardId);
    expect(shard.files.find((f) => f.path === 'img/logo.png')).toEqual(created.file);
    expect(shard.files.find((f) => f.path === 'index.html')?.kind).toBeUndefined();

    const next = png(100);
    const replaced = await api.uploadFile(shardId, 'img/logo.png', next, 'image/png');
    expect(replaced).toMatchObject({ created: false, file: created.file });
    expect((await api.readBinaryFile(shardId, 'img/logo.png')).bytes).toEqual(next);

    // Text over bytes and bytes over text are refused, and both files stay as they were.
    const asText = await put(t.url(), shardId, 'img/logo.png', JSON.stringify({ content: 'x' }), 'application/json');
    expect(asText.status).toBe(409);
    expect((await errorOf(asText)).code).toBe('FILE_KIND_MISMATCH');
    const overText = await put(t.url(), shardId, 'index.html', png(), 'application/octet-stream');
    expect(overText.status).toBe(409);
    expect((await errorOf(overText)).code).toBe('FILE_KIND_MISMATCH');
    expect((await api.readFile(shardId, 'index.html')).content).toContain('<');

    // text/* bodies write text files.
    const note = await put(t.url(), shardId, 'notes.txt', 'plain words\n', 'text/plain; charset=utf-8');
    expect(note.status).toBe(201);
    expect((await api.readFile(shardId, 'notes.txt')).content).toBe('plain words\n');
    // An SVG uploaded as image/svg+xml is a binary file served as SVG.
    await api.uploadFile(
      shardId,
      'logo.svg',
      new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      'image/svg+xml',
    );
    expect((await api.readBinaryFile(shardId, 'logo.svg')).contentType).toBe('image/svg+xml');
  });

  it('syncs bytes to the database, survives eviction, and renames and deletes like text', async () => {
    const shardId = await createShard(t.url(), 'static');
    const api = await rest();
    const app = t.apps[0]!.app;
    const first = png();
    await api.uploadFile(shardId, 'assets/photo.png', first, 'image/png');
    const synced = await app.flush(shardId);
    expect(synced.written).toBe(1);
    const row = await storedFile(shardId, 'assets/photo.png');
    expect(row?.kind).toBe('binary');
    expect(row?.content).toBe('');
    expect(new Uint8Array(row!.ydocState)).toEqual(first);

    // Replaced: only that file is written again, with the new bytes.
    const second = png(200);
    await api.uploadFile(shardId, 'assets/photo.png', second, 'image/png');
    expect((await app.flush(shardId)).written).toBe(1);
    expect(new Uint8Array((await storedFile(shardId, 'assets/photo.png'))!.ydocState)).toEqual(second);

    // Evicted: read from the database, then loaded again with its kind.
    const evicted = await app.flush(shardId, { evict: true });
    expect(evicted.evicted).toBe('EVICTED');
    expect(await app.cache.loader.isLoaded(shardId)).toBe(false);
    expect((await api.readBinaryFile(shardId, 'assets/photo.png')).bytes).toEqual(second);
    const session = await t.session(shardId);
    expect(session.tree().find((f) => f.path === 'assets/photo.png')?.kind).toBe('binary');
    expect((await api.readBinaryFile(shardId, 'assets/photo.png')).bytes).toEqual(second);

    // A folder move carries the binary file along, and its kind.
    await session.rename('assets', 'media');
    await waitFor(() => session.tree().some((f) => f.path === 'media/photo.png'), undefined, 'move applied');
    expect((await api.readBinaryFile(shardId, 'media/photo.png')).bytes).toEqual(second);
    await app.flush(shardId);
    expect((await storedFile(shardId, 'media/photo.png'))?.kind).toBe('binary');
    expect(await storedFile(shardId, 'assets/photo.png')).toBeUndefined();

    await api.deleteFile(shardId, 'media/photo.png');
    await app.flush(shardId);
    expect(await storedFile(shardId, 'media/photo.png')).toBeUndefined();
    const keys = await app.cache.files.tree(shardId);
    expect(keys.some((f) => f.path.startsWith('media/'))).toBe(false);
  });

  it('puts binary files in the zip download, byte for byte', async () => {
    const shardId = await createShard(t.url(), 'static');
    const api = await rest();
    const bytes = png(1000);
    await api.uploadFile(shardId, 'fonts/body.woff2', bytes, 'font/woff2');
    const fromCache = unzipSync(new Uint8Array(await (await api.downloadZip(shardId)).arrayBuffer()));
    expect(fromCache['fonts/body.woff2']).toEqual(bytes);
    expect(new TextDecoder().decode(fromCache['index.html'])).toContain('<');
    await t.apps[0]!.app.flush(shardId, { evict: true });
    const fromDb = unzipSync(new Uint8Array(await (await api.downloadZip(shardId)).arrayBuffer()));
    expect(fromDb['fonts/body.woff2']).toEqual(bytes);
  });

  it('enforces write access and refuses Yjs edits and syncs of a binary file', async () => {
    const shardId = await createShard(t.url(), 'static');
    const viewer = await tokenFor({ sub: 'viewer', shards: { [shardId]: 'read' } });
    const stranger = await tokenFor({ sub: 'stranger', shards: {} });
    const byViewer = await put(t.url(), shardId, 'a.png', png(), 'image/png', viewer);
    expect(byViewer.status).toBe(403);
    expect((await errorOf(byViewer)).code).toBe('READ_ONLY');
    const byStranger = await put(t.url(), shardId, 'a.png', png(), 'image/png', stranger);
    expect(byStranger.status).toBe(403);
    expect((await errorOf(byStranger)).code).toBe('FORBIDDEN');

    const { file } = await (await rest()).uploadFile(shardId, 'a.png', png(), 'image/png');
    const viewerRead = await fetch(`${t.url()}/shards/${shardId}/files/a.png`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(viewerRead.status).toBe(200);

    const app = t.apps[0]!.app;
    const admin = await app.auth.verify(await adminToken());
    const doc = new Y.Doc();
    doc.getText('content').insert(0, 'not an image');
    await expect(app.shards.edit(admin, shardId, file.id, Y.encodeStateAsUpdate(doc))).rejects.toMatchObject({
      code: 'FILE_KIND_MISMATCH',
    });
    await expect(app.shards.syncFile(admin, shardId, file.id, Y.encodeStateVector(doc))).rejects.toMatchObject({
      code: 'FILE_KIND_MISMATCH',
    });
    const session = await t.session(shardId);
    await expect(session.openFile('a.png')).rejects.toMatchObject({ code: 'FILE_KIND_MISMATCH' });
    expect(session.isBinary('a.png')).toBe(true);

    // Over the wire: a socket's file:sync and file:edit of the binary file get the code in their ack.
    const socket = await connectSocket(t.url(), await adminToken());
    try {
      const acks: unknown[] = [];
      for (const [event, payload] of [
        ['shard:join', { shardId }],
        ['file:sync', { shardId, fileId: file.id, stateVector: Y.encodeStateVector(new Y.Doc()) }],
        ['file:edit', { shardId, fileId: file.id, update: Y.encodeStateAsUpdate(doc) }],
      ] as const) {
        const outcome = await emitOutcome(socket, event, payload);
        acks.push(outcome.kind === 'ack' ? outcome.ack : outcome);
      }
      expect(acks[0]).toMatchObject({ ok: true });
      expect(acks[1]).toMatchObject({ ok: false, error: { code: 'FILE_KIND_MISMATCH' } });
      expect(acks[2]).toMatchObject({ ok: false, error: { code: 'FILE_KIND_MISMATCH' } });
    } finally {
      socket.close();
    }
    expect((await (await rest()).readBinaryFile(shardId, 'a.png')).bytes.byteLength).toBeGreaterThan(0);
  });
});

describe('binary files reach live collaborators and keep the limits', () => {
  const t = useTandem({
    instances: 2,
    database: 'sqlite',
    env: {
      SYNC_INTERVAL_MS: '3600000',
      MAX_FILE_BYTES: '1024',
      MAX_UPDATE_BYTES: '2048',
      MAX_ASSET_BYTES: '4096',
      MAX_SHARD_UNSYNCED_BYTES: '10000',
    },
  });

  it('tells sockets on every instance of created (kind binary), replaced, renamed and deleted binary files', async () => {
    const shardId = await createShard(t.url(), 'static');
    const watcher = await t.session(shardId, 1);
    const changes: TreeChange[] = [];
    watcher.on('tree', (_files: FileEntry[], change: TreeChange | null) => {
      if (change !== null) changes.push(change);
    });
    const api = new TandemRest({ url: t.url(0), token: await adminToken() });
    const { file } = await api.uploadFile(shardId, 'logo.png', png(), 'image/png');
    await waitFor(() => watcher.tree().find((f) => f.id === file.id)?.kind === 'binary', undefined, 'created');
    expect(changes).toContainEqual({ kind: 'created', file: { id: file.id, path: 'logo.png', kind: 'binary' } });
    await api.uploadFile(shardId, 'logo.png', png(), 'image/png');
    await waitFor(() => changes.some((c) => c.kind === 'replaced'), undefined, 'replaced');
    expect(changes.find((c) => c.kind === 'replaced')).toEqual({
      kind: 'replaced',
      file: { id: file.id, path: 'logo.png', kind: 'binary' },
    });
    const mover = await t.session(shardId, 0);
    await mover.rename('logo.png', 'img/logo.png');
    await waitFor(
      () => watcher.tree().some((f) => f.path === 'img/logo.png' && f.kind === 'binary'),
      undefined,
      'moved',
    );
    await mover.delete('img/logo.png');
    await waitFor(() => !watcher.tree().some((f) => f.id === file.id), undefined, 'deleted');
  });

  it('refuses a file over MAX_ASSET_BYTES and counts bytes in the unsynced backlog', async () => {
    const shardId = await createShard(t.url(), 'static');
    const tooBig = await put(t.url(), shardId, 'big.bin', new Uint8Array(5000), 'application/octet-stream');
    expect(tooBig.status).toBe(413);
    expect((await errorOf(tooBig)).code).toBe('FILE_TOO_LARGE');

    const app = t.apps[0]!.app;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await put(
        t.url(),
        shardId,
        `b${i}.bin`,
        new Uint8Array(4000).fill(i + 1),
        'application/octet-stream',
      );
      statuses.push(res.status);
      if (res.status !== 201) {
        const error = await errorOf(res);
        expect(error.code).toBe('SHARD_UNAVAILABLE');
        expect(error.details?.['reason']).toBe('backlog');
      }
    }
    // 2 × 4000 fit in 10 000 unsynced bytes, the third does not until a sync.
    expect(statuses).toEqual([201, 201, 503]);
    const inspected = await app.cache.sync.inspect(shardId);
    expect(inspected.unsyncedBytes).toBe(8000);
    await app.flush(shardId);
    const retry = await put(t.url(), shardId, 'b2.bin', new Uint8Array(4000).fill(3), 'application/octet-stream');
    expect(retry.status).toBe(201);
    // Replacing one drops its old bytes from the backlog: 4000 unsynced, not 8000.
    await put(t.url(), shardId, 'b2.bin', new Uint8Array(4000).fill(4), 'application/octet-stream');
    expect((await app.cache.sync.inspect(shardId)).unsyncedBytes).toBe(4000);
    const shard = await app.repository.findById(shardId);
    // The new file is in the database at once (file operations are written through); its bytes
    // come with the next sync.
    expect(shard?.files.filter((f) => f.kind === 'binary').map((f) => f.path)).toEqual(['b0.bin', 'b1.bin', 'b2.bin']);
    expect(shard?.files.find((f) => f.path === 'b2.bin')).toMatchObject({ version: 0 });
    expect(shard?.files.find((f) => f.path === 'b2.bin')?.ydocState.byteLength).toBe(0);
    const detail: ShardDetail = (await new TandemRest({ url: t.url(), token: await adminToken() }).getShard(shardId))
      .shard;
    expect(detail.files.filter((f) => f.kind === 'binary')).toHaveLength(3);
  });
});

describe('binary files through the sync queue', () => {
  // The periodic scheduler and the BullMQ worker (worker threads) do the syncing, as in production.
  const t = useTandem({ database: 'postgres' });

  it('reach the database without anyone asking, and leave the cache once nobody is in the shard', async () => {
    const shardId = await createShard(t.url(), 'static');
    const bytes = png(4096);
    await new TandemRest({ url: t.url(), token: await adminToken() }).uploadFile(
      shardId,
      'a/b.png',
      bytes,
      'image/png',
    );
    const app = t.apps[0]!.app;
    await waitFor(
      async () => {
        const file = (await app.repository.findById(shardId))?.files.find((f) => f.path === 'a/b.png');
        return file !== undefined && Buffer.from(file.ydocState).equals(Buffer.from(bytes));
      },
      undefined,
      'synced by the scheduler',
    );
    await waitFor(async () => !(await app.cache.loader.isLoaded(shardId)), undefined, 'evicted');
  });
});
