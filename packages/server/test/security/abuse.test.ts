import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { Ack, FileEntry, ShardDetail, ShardId } from '@tandem/protocol';
import { adminToken, connectClient, createShard, tokenFor } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { budgetMs } from '../support/time-budget.js';
import type { ServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';
import type { AbuseReport, Orders } from './abuser.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const ABUSER = fileURLToPath(new URL('./abuser.ts', import.meta.url));

// Small limits so that "enormous" stays cheap; the rate limits are the defaults (100/s, burst 300)
// and so is MAX_CONNECTIONS_PER_USER (20).
const KiB = 1024;
const LIMITS = {
  MAX_UPDATE_BYTES: 16 * KiB,
  MAX_FILE_BYTES: 15 * KiB,
  HTTP_BODY_LIMIT_BYTES: 256 * KiB,
  MAX_FILES_PER_SHARD: 12,
  SOCKET_MAX_MESSAGE_BYTES: 1024 * KiB,
};
const BURST = 300;
const RATE_PER_SECOND = 100;
const MAX_CONNECTIONS_PER_USER = 20;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

function tally(acks: ReadonlyArray<Ack<unknown>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of acks) {
    const key = a.ok ? 'ok' : a.error.code;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('abuse limits', () => {
  const t = useTandem({
    instances: 0,
    processes: 1,
    env: Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)])),
  });
  let server: ServerProcess;
  let admin: string;
  let shardId: ShardId;
  const sockets: Socket[] = [];
  let abuser: ChildProcess | undefined;

  beforeAll(async () => {
    server = t.processes[0]!;
    admin = await adminToken();
    shardId = await createShard(server.url);
    await adminRequest('POST', `/shards/${shardId}/files`, { path: 'flood.txt', content: '' });
    await adminRequest('POST', `/shards/${shardId}/files`, { path: 'good.txt', content: '' });
    await adminRequest('POST', `/shards/${shardId}/files`, { path: 'grow.txt', content: '' });
    await adminRequest('POST', `/shards/${shardId}/files`, { path: 'collab.txt', content: '' });
  });

  afterAll(async () => {
    if (abuser !== undefined && abuser.exitCode === null) abuser.kill('SIGKILL');
    for (const s of sockets) s.close();
  });

  async function adminRequest(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function put(path: string, rawBody: string): Promise<{ status: number; code: string | undefined }> {
    const res = await fetch(`${server.url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: rawBody,
    });
    const json = (await res.json()) as { error?: { code?: string } };
    return { status: res.status, code: json.error?.code };
  }

  async function filesOf(id: ShardId): Promise<FileEntry[]> {
    return ((await adminRequest('GET', `/shards/${id}`)).json['shard'] as ShardDetail).files;
  }

  function connect(token: string): Promise<Socket | string> {
    const socket = io(server.url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
    return new Promise((resolvePromise) => {
      socket.once('connect', () => {
        sockets.push(socket);
        resolvePromise(socket);
      });
      socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
        socket.close();
        resolvePromise(error.data?.code ?? '(no code)');
      });
    });
  }

  async function call(socket: Socket, event: string, payload: unknown): Promise<Ack<unknown>> {
    return (await socket.timeout(10_000).emitWithAck(event, payload)) as Ack<unknown>;
  }

  async function joined(sub: string, shard: ShardId = shardId): Promise<{ socket: Socket; files: FileEntry[] }> {
    const socket = await connect(await tokenFor({ sub, shards: { [shard]: 'write' } }));
    if (typeof socket === 'string') throw new Error(`handshake refused: ${socket}`);
    const ack = await call(socket, 'shard:join', { shardId: shard });
    if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
    return { socket, files: (ack.data as { files: FileEntry[] }).files };
  }

  function fileId(files: FileEntry[], path: string): string {
    const file = files.find((f) => f.path === path);
    if (file === undefined) throw new Error(`no ${path}`);
    return file.id;
  }

  /** An editor of one file: each call returns the Yjs update of one more typed text. */
  function typist(): (text: string) => Uint8Array {
    const doc = new Y.Doc();
    return (text) => {
      const before = Y.encodeStateVector(doc);
      doc.getText('content').insert(0, text);
      return Y.encodeStateAsUpdate(doc, before);
    };
  }

  // ---- each abuse is refused with its code ----------------------------------------------------------

  it('refuses floods of edits, presence updates and joins from one socket with RATE_LIMITED, and keeps it connected', async () => {
    const floods: Array<[string, (socket: Socket, files: FileEntry[]) => () => [string, unknown]]> = [
      [
        'edits',
        (_socket, files) => {
          const type = typist();
          const id = fileId(files, 'flood.txt');
          return () => ['file:edit', { shardId, fileId: id, update: type('x') }];
        },
      ],
      [
        'presence',
        () => {
          const awareness = new Awareness(new Y.Doc());
          let n = 0;
          return () => {
            awareness.setLocalStateField('cursor', n++);
            return ['presence:update', { shardId, update: encodeAwarenessUpdate(awareness, [awareness.clientID]) }];
          };
        },
      ],
      ['joins', () => () => ['shard:join', { shardId }]],
    ];
    for (const [name, prepare] of floods) {
      const { socket, files } = await joined(`flooder-${name}`);
      const next = prepare(socket, files);
      const started = performance.now();
      const acks = await Promise.all(Array.from({ length: 1000 }, () => call(socket, ...next())));
      const seconds = (performance.now() - started) / 1000;
      const counts = tally(acks);
      // An edit typed after a refused one lacks its origin on the server: refused as well, with the
      // code that makes the SDK resync (issue 12 item 4), never stored where it could not integrate.
      const allowed = name === 'edits' ? ['RATE_LIMITED', 'SHARD_UNAVAILABLE', 'ok'] : ['RATE_LIMITED', 'ok'];
      expect(
        Object.keys(counts).filter((code) => !allowed.includes(code)),
        name,
      ).toEqual([]);
      expect(Object.keys(counts), name).toEqual(expect.arrayContaining(['RATE_LIMITED', 'ok']));
      // The join took one token; the bucket refills while the flood is being answered.
      expect(counts['ok'], name).toBeLessThanOrEqual(BURST - 1 + Math.ceil(RATE_PER_SECOND * seconds) + 1);
      expect(counts['RATE_LIMITED'], name).toBeGreaterThanOrEqual(
        1000 - BURST - Math.ceil(RATE_PER_SECOND * seconds) - 1,
      );
      expect(socket.connected, name).toBe(true);
      socket.close();
    }
  });

  it(`caps the connections of one user at MAX_CONNECTIONS_PER_USER (${MAX_CONNECTIONS_PER_USER}) with RATE_LIMITED`, async () => {
    const token = await tokenFor({ sub: 'many-tabs', shards: { [shardId]: 'read' } });
    const held: Socket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_USER; i++) {
      const socket = await connect(token);
      if (typeof socket === 'string') throw new Error(`connection ${i + 1} refused: ${socket}`);
      held.push(socket);
    }
    const [extra, burst] = await Promise.all([
      connect(token),
      Promise.all(Array.from({ length: 10 }, () => connect(token))),
    ]);
    expect(extra).toBe('RATE_LIMITED');
    expect(burst).toEqual(Array.from({ length: 10 }, () => 'RATE_LIMITED'));
    // Another user on the same instance is not affected.
    const other = await connect(await tokenFor({ sub: 'someone-else', shards: { [shardId]: 'read' } }));
    expect(typeof other).not.toBe('string');
    // Closing one frees its slot (the server sees the close a moment later).
    held.pop()?.close();
    const again = await waitFor(
      async () => {
        const s = await connect(token);
        return typeof s === 'string' ? null : s;
      },
      5000,
      'a freed connection slot',
    );
    expect(again.connected).toBe(true);
    for (const s of [...held, again]) s.close();
    if (typeof other !== 'string') other.close();
  });

  it('refuses an enormous body, file or update with its code and leaves the shard as it was', async () => {
    const base = `/shards/${shardId}/files`;
    // A REST body over HTTP_BODY_LIMIT_BYTES.
    const overBody = JSON.stringify({ content: 'x'.repeat(LIMITS.HTTP_BODY_LIMIT_BYTES + KiB) });
    expect(await put(`${base}/huge.txt`, overBody)).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    // A file over MAX_FILE_BYTES, in a body under the limit: REST write, REST create, socket create.
    const overFile = 'y'.repeat(LIMITS.MAX_FILE_BYTES + 1);
    expect(await put(`${base}/huge.txt`, JSON.stringify({ content: overFile }))).toEqual({
      status: 413,
      code: 'FILE_TOO_LARGE',
    });
    const created = await adminRequest('POST', base, { path: 'huge.txt', content: overFile });
    expect([created.status, (created.json['error'] as { code: string }).code]).toEqual([413, 'FILE_TOO_LARGE']);
    const { socket, files } = await joined('enormous');
    const createAck = await call(socket, 'file:create', { shardId, path: 'huge.txt', content: overFile });
    expect(createAck.ok ? 'ok' : createAck.error.code).toBe('FILE_TOO_LARGE');
    expect((await filesOf(shardId)).some((f) => f.path === 'huge.txt')).toBe(false);

    // One update over MAX_UPDATE_BYTES.
    const growId = fileId(files, 'grow.txt');
    const bigUpdate = typist()('z'.repeat(LIMITS.MAX_UPDATE_BYTES + 1));
    const bigAck = await call(socket, 'file:edit', { shardId, fileId: growId, update: bigUpdate });
    expect(bigAck.ok ? 'ok' : bigAck.error.code).toBe('PAYLOAD_TOO_LARGE');

    // A file grown by many updates, each under the limit, until it holds too much.
    const type = typist();
    const codes: string[] = [];
    for (let i = 0; i < 60 && !codes.includes('FILE_TOO_LARGE'); i++) {
      const ack = await call(socket, 'file:edit', {
        shardId,
        fileId: growId,
        update: type('w'.repeat(LIMITS.MAX_UPDATE_BYTES - 256)),
      });
      codes.push(ack.ok ? 'ok' : ack.error.code);
    }
    expect(codes.at(-1)).toBe('FILE_TOO_LARGE');
    expect(new Set(codes)).toEqual(new Set(['ok', 'FILE_TOO_LARGE']));
    // What a file may hold between two syncs is bounded by 4 × MAX_FILE_BYTES (see schema.ts).
    const grown = await fetch(`${server.url}${base}/grow.txt?raw`, { headers: { authorization: `Bearer ${admin}` } });
    expect(Buffer.byteLength(await grown.text())).toBeLessThanOrEqual(4 * LIMITS.MAX_FILE_BYTES);

    // A socket.io message over SOCKET_MAX_MESSAGE_BYTES closes that connection (no code exists for it).
    const closed = new Promise<string>((resolveReason) => socket.once('disconnect', (reason) => resolveReason(reason)));
    socket.emit('file:edit', {
      shardId,
      fileId: growId,
      update: new Uint8Array(LIMITS.SOCKET_MAX_MESSAGE_BYTES + KiB),
    });
    expect(await closed).toMatch(/transport (close|error)/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('refuses files beyond MAX_FILES_PER_SHARD with TOO_MANY_FILES and keeps the shard usable', async () => {
    const full = await createShard(server.url);
    const { socket } = await joined('filler', full);
    const start = (await filesOf(full)).length;
    for (let i = start; i < LIMITS.MAX_FILES_PER_SHARD; i++) {
      const ack = await call(socket, 'file:create', { shardId: full, path: `fill/f${i}.txt` });
      expect(ack.ok).toBe(true);
    }
    const ack = await call(socket, 'file:create', { shardId: full, path: 'one-too-many.txt' });
    expect(ack.ok ? 'ok' : ack.error.code).toBe('TOO_MANY_FILES');
    const viaPost = await adminRequest('POST', `/shards/${full}/files`, { path: 'one-too-many.txt' });
    expect([viaPost.status, (viaPost.json['error'] as { code: string }).code]).toEqual([409, 'TOO_MANY_FILES']);
    expect(await put(`/shards/${full}/files/one-too-many.txt`, JSON.stringify({ content: '' }))).toEqual({
      status: 409,
      code: 'TOO_MANY_FILES',
    });
    expect((await filesOf(full)).length).toBe(LIMITS.MAX_FILES_PER_SHARD);
    // Existing files stay writable, and deleting one makes room again.
    expect(
      (await put(`/shards/${full}/files/fill/f${start}.txt`, JSON.stringify({ content: 'still writable' }))).status,
    ).toBe(200);
    expect((await adminRequest('DELETE', `/shards/${full}/files/fill/f${start}.txt`)).status).toBe(200);
    expect((await call(socket, 'file:create', { shardId: full, path: 'room-again.txt' })).ok).toBe(true);
    socket.close();
  });

  // ---- other users keep their latency -----------------------------------------------------------------

  it('serves a well-behaved user’s edits while all of the above runs at once, and measures their latency', async () => {
    const { socket, files } = await joined('well-behaved');
    // A collaborator on the real SDK, which answers every presence:requested with its presence:
    // a join flood must not spend this user's own event budget.
    const collaborator = await connectClient(
      server.url,
      await tokenFor({ sub: 'sdk-collaborator', shards: { [shardId]: 'write' } }),
    );
    const session = await collaborator.join(shardId);
    session.setPresence({ user: { id: 'sdk-collaborator', name: 'Collaborator', color: '#3366ff' } });
    const collaboratorErrors: string[] = [];
    session.on('error', (error) => collaboratorErrors.push(error.code));
    const collabText = await session.openFile('collab.txt');
    const goodId = fileId(files, 'good.txt');
    const floodId = fileId(files, 'flood.txt');
    const type = typist();

    /** Edit round-trips (send → ack) in ms: one small edit every `gapMs`. */
    async function measure(samples: number, gapMs = 20): Promise<number[]> {
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const update = type('k');
        const t0 = performance.now();
        const ack = await call(socket, 'file:edit', { shardId, fileId: goodId, update });
        out.push(performance.now() - t0);
        expect(ack.ok).toBe(true);
        await new Promise((r) => setTimeout(r, gapMs));
      }
      return out;
    }

    await measure(20); // warm-up
    const baseline = await measure(150);

    const orders: Orders = {
      url: server.url,
      shardId,
      fileId: floodId,
      durationMs: 6000,
      // Ten times the allowed rate, one client (socket) per flood. Faster floods mostly measure
      // the abuser process starving the server of CPU on this 2-core machine, not the server.
      eventsPerSecond: 1000,
      tokens: {
        edits: await tokenFor({ sub: 'abuser-edits', shards: { [shardId]: 'write' } }),
        presence: await tokenFor({ sub: 'abuser-presence', shards: { [shardId]: 'read' } }),
        joins: await tokenFor({ sub: 'abuser-joins', shards: { [shardId]: 'read' } }),
        connections: await tokenFor({ sub: 'abuser-connections', shards: { [shardId]: 'read' } }),
        oversized: await tokenFor({ sub: 'abuser-oversized', shards: { [shardId]: 'write' } }),
        rest: await tokenFor({ sub: 'abuser-rest', shards: { [shardId]: 'write' } }),
      },
      editSockets: 1,
      presenceSockets: 1,
      joinSockets: 1,
      connectionsPerSecond: 50,
      oversizedUpdateBytes: LIMITS.MAX_UPDATE_BYTES + KiB,
      oversizedPerSecond: 50,
      restPerSecond: 20,
      restBodyBytes: LIMITS.HTTP_BODY_LIMIT_BYTES + KiB,
      restFileBytes: LIMITS.MAX_FILE_BYTES + KiB,
    };
    const child = (abuser = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ABUSER], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', ABUSE_ORDERS: JSON.stringify(orders) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let underAbuse: number[];
    try {
      // Let the abuser connect and ramp up before measuring.
      await new Promise((r) => setTimeout(r, 1500));
      let typing = true;
      const typed = (async () => {
        let n = 0;
        while (typing) {
          collabText.insert(collabText.length, 'c');
          n++;
          await new Promise((r) => setTimeout(r, 50));
        }
        return n;
      })();
      underAbuse = await measure(150);
      typing = false;
      const typedCount = await typed;
      expect(await exited).toBe(0);
      await session.flushed(budgetMs(5_000));
      expect(collaboratorErrors).toEqual([]);
      expect(collabText.toString()).toBe('c'.repeat(typedCount));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const report = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as AbuseReport;

    const numbers = {
      baselineMs: { p50: percentile(baseline, 0.5), p99: percentile(baseline, 0.99), max: Math.max(...baseline) },
      underAbuseMs: {
        p50: percentile(underAbuse, 0.5),
        p99: percentile(underAbuse, 0.99),
        max: Math.max(...underAbuse),
      },
      abuse: report,
    };
    console.log(
      `edit round-trip of a well-behaved client, with and without abuse:\n${JSON.stringify(numbers, null, 2)}`,
    );

    // Every flood was refused with its code, and nothing else went wrong.
    const outcomes = (flood: string) => Object.keys(report[flood] ?? {}).sort();
    expect(report['abuser errors']).toBeUndefined();
    expect(outcomes('edits')).toEqual(expect.arrayContaining(['RATE_LIMITED', 'ok']));
    expect(outcomes('edits').filter((code) => !['RATE_LIMITED', 'SHARD_UNAVAILABLE', 'ok'].includes(code))).toEqual([]);
    expect(outcomes('presence')).toEqual(['RATE_LIMITED', 'ok']);
    expect(outcomes('joins')).toEqual(['RATE_LIMITED', 'ok']);
    expect(outcomes('oversized-updates').every((c) => c === 'PAYLOAD_TOO_LARGE' || c === 'RATE_LIMITED')).toBe(true);
    expect(report['oversized-updates']?.['PAYLOAD_TOO_LARGE']).toBeGreaterThan(0);
    expect(report['connections']?.['connected']).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_USER);
    expect(report['connections']?.['RATE_LIMITED']).toBeGreaterThan(0);
    expect(outcomes('connections')).toEqual(['RATE_LIMITED', 'connected']);
    expect(outcomes('rest')).toEqual(['HTTP 413 FILE_TOO_LARGE', 'HTTP 413 PAYLOAD_TOO_LARGE']);

    // Every edit of the well-behaved user was accepted (checked above) and none starved. Its
    // latency is measured and printed, not asserted: timings belong to benchmarks, and on a
    // shared 2-core CI machine they swing with whatever else runs (quiet-machine figures are in
    // the issue notes and docs/operations.md).
    expect(
      numbers.underAbuseMs.max,
      `slowest round trip under abuse ${numbers.underAbuseMs.max.toFixed(1)} ms`,
    ).toBeLessThan(5000);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    socket.close();
    await collaborator.close();
  });
});
