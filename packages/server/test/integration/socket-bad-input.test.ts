import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import type { Ack, FileId, ShardId } from '@tandem/protocol';
import { adminToken, createShard, tokenFor, type RunningApp } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

type Raw = Socket;

describe('bad input on sockets', () => {
  const t = useTandem({
    env: { MAX_UPDATE_BYTES: '4096', MAX_FILE_BYTES: '3072', RATE_EVENTS_PER_SECOND: '20', RATE_EVENTS_BURST: '40' },
  });
  let server: RunningApp;
  let shardId: ShardId;
  const sockets: Raw[] = [];

  beforeAll(async () => {
    server = t.apps[0]!;
    shardId = await createShard(server.url);
  });

  afterAll(() => {
    for (const s of sockets) s.disconnect();
  });

  async function connect(token: string | undefined): Promise<Raw> {
    const socket = io(server.url, {
      transports: ['websocket'],
      auth: token === undefined ? {} : { token },
      reconnection: false,
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  async function call(socket: Raw, event: string, payload: unknown): Promise<Ack<unknown>> {
    return (await socket.timeout(5000).emitWithAck(event, payload)) as Ack<unknown>;
  }

  async function joined(token?: string): Promise<{ socket: Raw; files: Array<{ id: FileId; path: string }> }> {
    const socket = await connect(token ?? (await adminToken()));
    const ack = await call(socket, 'shard:join', { shardId });
    if (!ack.ok) throw new Error(ack.error.message);
    return { socket, files: (ack.data as { files: Array<{ id: FileId; path: string }> }).files };
  }

  async function fileText(path: string): Promise<string> {
    const res = await fetch(`${server.url}/shards/${shardId}/files/${path}?raw`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    return res.text();
  }

  function codeOf(ack: Ack<unknown>): string {
    expect(ack.ok).toBe(false);
    return ack.ok ? 'OK' : ack.error.code;
  }

  it('refuses a handshake without a token or with a bad one', async () => {
    for (const token of [undefined, 'garbage', (await adminToken()).slice(0, -3) + 'abc', await tokenFor({}, -10)]) {
      const error = await connect(token).then(
        () => null,
        (e: Error & { data?: { code: string } }) => e.data?.code,
      );
      expect(['UNAUTHENTICATED', 'TOKEN_EXPIRED']).toContain(error);
    }
  });

  it('answers each bad event with its code and leaves the shard unchanged', async () => {
    const before = await fileText('index.html');
    const { socket, files } = await joined();
    const file = files.find((f) => f.path === 'index.html')!;
    const tiny = new Y.Doc();
    tiny.getText('content').insert(0, 'x');
    const good = Y.encodeStateAsUpdate(tiny);

    expect(
      codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: new Uint8Array([1, 2, 3, 250, 7]) })),
    ).toBe('UPDATE_MALFORMED');
    expect(codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: new Uint8Array(5000) }))).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect(codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: 'not bytes' }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(codeOf(await call(socket, 'file:edit', { shardId, fileId: 'nope', update: good }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(codeOf(await call(socket, 'file:edit', { shardId, fileId: 'AAAAAAAAAAAAAAAA', update: good }))).toBe(
      'FILE_NOT_FOUND',
    );
    expect(codeOf(await call(socket, 'file:edit', null))).toBe('VALIDATION_FAILED');
    expect(codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: good, extra: 1 }))).toBe(
      'VALIDATION_FAILED',
    );
    const otherMap = new Y.Doc();
    otherMap.getMap('evil').set('k', 'v');
    expect(
      codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: Y.encodeStateAsUpdate(otherMap) })),
    ).toBe('UPDATE_MALFORMED');
    for (const path of [
      '../escape.js',
      '/etc/passwd',
      'a\u0000b',
      '%2e%2e/x',
      'a\\b',
      'x/'.repeat(40) + 'f',
      'y'.repeat(600),
    ]) {
      expect(codeOf(await call(socket, 'file:create', { shardId, path }))).toBe('PATH_INVALID');
    }
    expect(codeOf(await call(socket, 'file:rename', { shardId, from: 'index.html', to: '../index.html' }))).toBe(
      'PATH_INVALID',
    );
    expect(codeOf(await call(socket, 'file:rename', { shardId, from: 'index.html', to: 'SRC/Main.js' }))).toBe(
      'FILE_EXISTS',
    );
    expect(codeOf(await call(socket, 'file:rename', { shardId, from: 'index.html', to: 'src/main.js/x.html' }))).toBe(
      'FILE_EXISTS',
    );
    expect(codeOf(await call(socket, 'file:create', { shardId, path: 'Index.html' }))).toBe('FILE_EXISTS');
    expect(codeOf(await call(socket, 'file:delete', { shardId, path: 'missing.txt' }))).toBe('FILE_NOT_FOUND');
    expect(codeOf(await call(socket, 'presence:update', { shardId, update: new Uint8Array([9, 9, 9]) }))).toBe(
      'UPDATE_MALFORMED',
    );
    expect(codeOf(await call(socket, 'no:such-event', {}))).toBe('NOT_FOUND');
    expect(
      codeOf(
        await call(socket, 'file:sync', { shardId, fileId: file.id, stateVector: new Uint8Array([255, 255, 255]) }),
      ),
    ).toBe('UPDATE_MALFORMED');

    expect(await fileText('index.html')).toBe(before);
    const tree = await fetch(`${server.url}/shards/${shardId}`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    const paths = ((await tree.json()) as { shard: { files: Array<{ path: string }> } }).shard.files.map((f) => f.path);
    expect(paths).toContain('index.html');
    expect(paths.some((p) => p.includes('escape') || p.includes('passwd'))).toBe(false);
  });

  it('refuses unknown shards, shards outside the token and events before joining', async () => {
    const socket = await connect(await tokenFor({ shards: { [shardId]: 'write' } }));
    expect(codeOf(await call(socket, 'shard:join', { shardId: '00000000-0000-4000-8000-000000000000' }))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await call(socket, 'shard:join', { shardId: 'not-a-uuid' }))).toBe('VALIDATION_FAILED');
    const admin = await connect(await adminToken());
    expect(codeOf(await call(admin, 'shard:join', { shardId: '00000000-0000-4000-8000-000000000000' }))).toBe(
      'SHARD_NOT_FOUND',
    );
    expect(codeOf(await call(socket, 'file:create', { shardId, path: 'x.js' }))).toBe('NOT_JOINED');
  });

  it('lets a viewer read but not edit, create, rename or delete', async () => {
    const before = await fileText('index.html');
    const { socket, files } = await joined(await tokenFor({ shards: { [shardId]: 'read' } }));
    const file = files.find((f) => f.path === 'index.html')!;
    const d = new Y.Doc();
    d.getText('content').insert(0, 'viewer was here');
    const sync = await call(socket, 'file:sync', { shardId, fileId: file.id, stateVector: Y.encodeStateVector(d) });
    expect(sync.ok).toBe(true);
    expect(
      codeOf(await call(socket, 'file:edit', { shardId, fileId: file.id, update: Y.encodeStateAsUpdate(d) })),
    ).toBe('READ_ONLY');
    expect(codeOf(await call(socket, 'file:create', { shardId, path: 'viewer.js' }))).toBe('READ_ONLY');
    expect(codeOf(await call(socket, 'file:rename', { shardId, from: 'index.html', to: 'x.html' }))).toBe('READ_ONLY');
    expect(codeOf(await call(socket, 'file:delete', { shardId, path: 'index.html' }))).toBe('READ_ONLY');
    expect(await fileText('index.html')).toBe(before);
  });

  it('rate-limits a flood without hurting the connection or other users', async () => {
    const { socket } = await joined();
    const started = performance.now();
    const acks = await Promise.all(Array.from({ length: 200 }, () => call(socket, 'shard:join', { shardId })));
    const seconds = (performance.now() - started) / 1000;
    const limited = acks.filter((a) => !a.ok && a.error.code === 'RATE_LIMITED').length;
    const accepted = acks.filter((a) => a.ok).length;
    expect(limited + accepted).toBe(200);
    expect(limited).toBeGreaterThan(0);
    // The burst (40) minus the join above, plus at most what refilled (20/s) while they ran.
    expect(accepted).toBeGreaterThanOrEqual(39);
    expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(20 * seconds) + 1);
    // The flooder recovers once the bucket refills; other users are unaffected meanwhile.
    const other = await joined();
    expect(other.files.length).toBeGreaterThan(0);
    await waitFor(async () => (await call(socket, 'shard:join', { shardId })).ok, 5000, 'bucket refill');
    expect(socket.connected).toBe(true);
  });
});
