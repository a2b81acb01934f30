/**
 * What the fuzz tests share besides generators: raw requests and sockets, the answer-shape
 * properties, and the checks run after a fuzz run (the server is alive and nothing is corrupt).
 */
import { request as httpRequest, Agent } from 'node:http';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { isErrorCode, normalizePath, type Ack, type FileEntry, type ShardDetail } from '@tandem/protocol';
import yauzl from 'yauzl';
import { httpStatusOf } from '../../src/errors/index.js';
import { checkTextUpdate, integrateIntoState } from '../../src/shard-cache/index.js';
import { adminToken } from '../support/test-app.js';
import { CONTROL_PATH, fuzzSeed } from './arbitraries.js';

// ---- raw HTTP ------------------------------------------------------------------------------------

export type RawResponse = { status: number; contentType: string; body: Buffer };

const agent = new Agent({ keepAlive: false });

/** One HTTP request sent as given (no URL normalisation, unlike fetch), on its own connection. */
export function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string | Uint8Array },
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  // An explicit length: without it Node sends a GET/DELETE/OPTIONS body unframed, which the server
  // then parses as the next request on the connection.
  const headers = {
    ...options.headers,
    ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }),
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, host: hostname, port, method: options.method, path: options.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${options.method} ${options.path} within 15 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Closes the keep-alive sockets (call in afterAll). */
export function closeAgent(): void {
  agent.destroy();
}

/**
 * The REST error contract: a 4xx is JSON `{error:{code,message}}` with a published code whose
 * status is `httpStatusOf(code)`; a 5xx never happens here. Returns the code, if any.
 */
export function checkRestAnswer(res: RawResponse, method: string): string | undefined {
  if (res.status >= 500) throw new Error(`server error ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
  if (res.status < 400) return undefined;
  if (method.toUpperCase() === 'HEAD') return undefined; // no body to check
  if (!res.contentType.startsWith('application/json')) {
    throw new Error(`error ${res.status} is not JSON (${res.contentType}): ${res.body.toString('utf8').slice(0, 300)}`);
  }
  const body = JSON.parse(res.body.toString('utf8')) as unknown;
  const error = (body as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown } | undefined;
  if (typeof error !== 'object' || error === null || !isErrorCode(error.code) || typeof error.message !== 'string') {
    throw new Error(`error ${res.status} has an undocumented body: ${JSON.stringify(body).slice(0, 300)}`);
  }
  if (error.code === 'INTERNAL') throw new Error(`INTERNAL: ${error.message}`);
  if (httpStatusOf(error.code) !== res.status) {
    throw new Error(`code ${error.code} came with status ${res.status}, expected ${httpStatusOf(error.code)}`);
  }
  return error.code;
}

// ---- sockets -------------------------------------------------------------------------------------

export async function connectSocket(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => {
      socket.close();
      reject(e);
    });
  });
  return socket;
}

export type EmitOutcome =
  | { kind: 'ack'; ack: unknown }
  | { kind: 'closed'; reason: string }
  | { kind: 'timeout' }
  | { kind: 'refused-by-client'; error: unknown };

/** Emits with an ack callback and reports what happened: an ack, the socket closing, or nothing. */
export function emitOutcome(socket: Socket, event: string, payload: unknown, timeoutMs = 10_000): Promise<EmitOutcome> {
  return new Promise((resolve) => {
    const onDisconnect = (reason: string) => {
      cleanup();
      resolve({ kind: 'closed', reason });
    };
    const timer = setTimeout(() => {
      cleanup();
      resolve({ kind: 'timeout' });
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
    };
    socket.on('disconnect', onDisconnect);
    try {
      socket.emit(event, payload, (ack: unknown) => {
        cleanup();
        resolve({ kind: 'ack', ack });
      });
    } catch (error) {
      // socket.io-client refuses reserved event names (connect, disconnect, …) before sending.
      cleanup();
      resolve({ kind: 'refused-by-client', error });
    }
  });
}

/** The ack contract: `{ok:true,data}` or `{ok:false,error:{code,message}}` with a published code, never INTERNAL. */
export function checkAckShape(ack: unknown): Ack<unknown> {
  if (typeof ack !== 'object' || ack === null) throw new Error(`ack is not an object: ${String(ack)}`);
  const a = ack as Record<string, unknown>;
  if (a['ok'] === true) {
    if (!('data' in a)) throw new Error('ok ack without data');
    return ack as Ack<unknown>;
  }
  if (a['ok'] !== false) throw new Error(`ack.ok is ${String(a['ok'])}`);
  const error = a['error'] as { code?: unknown; message?: unknown } | undefined;
  if (typeof error !== 'object' || error === null || !isErrorCode(error.code) || typeof error.message !== 'string') {
    throw new Error(`ack error has an undocumented shape: ${JSON.stringify(ack).slice(0, 300)}`);
  }
  if (error.code === 'INTERNAL') throw new Error(`INTERNAL ack: ${error.message}`);
  return ack as Ack<unknown>;
}

/** Bytes a payload takes on the wire, roughly (strings as UTF-8, binary as its length). */
export function payloadBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value !== 'object' || value === null || depth > 8) return 8;
  let n = 2;
  for (const [k, v] of Object.entries(value)) n += k.length + 4 + payloadBytes(v, depth + 1);
  return n;
}

// ---- the control file --------------------------------------------------------------------------

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not percent-decodable: the server sees it as it is
  }
}

/** True when any string in `value` (raw or percent-decoded) canonicalises to the control file. */
export function mentionsControl(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') {
    return [value, safeDecode(value)].some((s) => {
      const r = normalizePath(s);
      return r.ok && r.path === CONTROL_PATH;
    });
  }
  if (typeof value !== 'object' || value === null || depth > 8) return false;
  if (value instanceof Uint8Array) return false;
  return Object.values(value).some((v) => mentionsControl(v, depth + 1));
}

// ---- running a property --------------------------------------------------------------------------

/** Runs a fast-check property with FUZZ_SEED (or a fresh seed), printing the seed on failure. */
export async function runProperty<T>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<T>,
  numRuns: number,
): Promise<void> {
  const seed = fuzzSeed();
  try {
    await fc.assert(property, { numRuns, seed, endOnFailure: false });
  } catch (error) {
    console.error(`[fuzz] ${name} failed; replay with FUZZ_SEED=${seed}`);
    // Counterexamples can hold megabytes of generated text: keep the report readable.
    const message = error instanceof Error ? error.message : String(error);
    const short =
      message.length > 4000
        ? `${message.slice(0, 3000)}\n…[${message.length - 4000} characters cut]…\n${message.slice(-1000)}`
        : message;
    throw new Error(`${short}\n(replay with FUZZ_SEED=${seed})`, { cause: error });
  }
}

// ---- after the run -------------------------------------------------------------------------------

export function encodeFilePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

async function adminGet(url: string, path: string): Promise<RawResponse> {
  return rawRequest(url, { method: 'GET', path, headers: { authorization: `Bearer ${await adminToken()}` } });
}

/** The control file's bytes, read through REST. */
export async function readControl(url: string, shardId: string): Promise<Buffer> {
  const res = await adminGet(url, `/shards/${shardId}/files/${encodeFilePath(CONTROL_PATH)}?raw`);
  expect(res.status).toBe(200);
  return res.body;
}

/**
 * After a fuzz run: /healthz answers, a fresh client joins and edits, the control file is
 * byte-identical, every path in the tree is canonical and every file still reads.
 */
export async function checkAfterRun(url: string, shardId: string, controlBefore: Buffer): Promise<void> {
  const health = await rawRequest(url, { method: 'GET', path: '/healthz' });
  expect(health.status).toBe(200);

  // A fresh client joins and edits a new file.
  const socket = await connectSocket(url, await adminToken());
  try {
    const join = checkAckShape(await ackOf(socket, 'shard:join', { shardId }));
    expect(join.ok).toBe(true);
    const path = `after-fuzz-${randomUUID().slice(0, 8)}.txt`;
    const created = checkAckShape(await ackOf(socket, 'file:create', { shardId, path, content: 'before ' }));
    if (!created.ok) throw new Error(`fresh create failed: ${created.error.code} ${created.error.message}`);
    const fileId = (created.data as { file: FileEntry }).file.id;
    const sync = checkAckShape(await ackOf(socket, 'file:sync', { shardId, fileId, stateVector: new Uint8Array([0]) }));
    if (!sync.ok) throw new Error(`fresh sync failed: ${sync.error.code}`);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, new Uint8Array((sync.data as { update: ArrayBuffer | Uint8Array }).update));
    const sv = Y.encodeStateVector(doc);
    const text = doc.getText('content');
    text.insert(text.length, 'after');
    const edit = checkAckShape(
      await ackOf(socket, 'file:edit', { shardId, fileId, update: Y.encodeStateAsUpdate(doc, sv) }),
    );
    if (!edit.ok) throw new Error(`fresh edit failed: ${edit.error.code} ${edit.error.message}`);
    const read = await adminGet(url, `/shards/${shardId}/files/${encodeFilePath(path)}?raw`);
    expect(read.body.toString('utf8')).toBe('before after');
    const deleted = checkAckShape(await ackOf(socket, 'file:delete', { shardId, path }));
    expect(deleted.ok).toBe(true);
  } finally {
    socket.close();
  }

  expect(await readControl(url, shardId)).toEqual(controlBefore);

  const tree = await adminGet(url, `/shards/${shardId}`);
  expect(tree.status).toBe(200);
  const files = (JSON.parse(tree.body.toString('utf8')) as { shard: ShardDetail }).shard.files;
  expect(files.some((f) => f.path === CONTROL_PATH)).toBe(true);
  const notCanonical = files.filter((f) => {
    const r = normalizePath(f.path);
    return !r.ok || r.path !== f.path;
  });
  expect(notCanonical).toEqual([]);
  const unreadable: string[] = [];
  for (const f of files) {
    const res = await adminGet(url, `/shards/${shardId}/files/${encodeFilePath(f.path)}`);
    if (res.status !== 200) unreadable.push(`${f.path}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
  }
  expect(unreadable).toEqual([]);

  // Every file holds plain text only, all of it integrated (nothing pending), and the zip holds
  // exactly the tree's files, whatever their names (issue 12 items 2, 4 and 6).
  const checker = await connectSocket(url, await adminToken());
  try {
    expect(checkAckShape(await ackOf(checker, 'shard:join', { shardId })).ok).toBe(true);
    const unhealthy: string[] = [];
    for (const f of files) {
      // A binary file (an upload with a binary content type) has no Yjs document; it was read above.
      if (f.kind === 'binary') continue;
      const sync = checkAckShape(
        await ackOf(checker, 'file:sync', { shardId, fileId: f.id, stateVector: new Uint8Array([0]) }),
      );
      if (!sync.ok) {
        unhealthy.push(`${f.path}: sync ${sync.error.code}`);
        continue;
      }
      const decoded = checkTextUpdate(new Uint8Array((sync.data as { update: ArrayBuffer | Uint8Array }).update));
      if (typeof decoded === 'string') unhealthy.push(`${f.path}: ${decoded}`);
      else if (!integrateIntoState(new Map(), decoded).complete) unhealthy.push(`${f.path}: holds pending structs`);
    }
    expect(unhealthy).toEqual([]);
  } finally {
    checker.close();
  }
  const zip = await adminGet(url, `/shards/${shardId}/zip`);
  expect(zip.status).toBe(200);
  expect([...(await unzipToMap(zip.body)).keys()].sort()).toEqual(files.map((f) => f.path).sort());
}

/**
 * The entries of a zip, path → text, in a Map (an entry named `__proto__` stays an entry), read
 * through its central directory as unzip tools do, with every entry's CRC checked. (A streaming
 * reader that follows local headers can mistake bytes inside compressed data for the next
 * header.)
 */
export function unzipToMap(bytes: Uint8Array): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(Buffer.from(bytes), { lazyEntries: true, strictFileNames: true }, (openError, zip) => {
      if (openError !== null) return reject(openError);
      const out = new Map<string, string>();
      zip.on('error', reject);
      zip.on('end', () => resolve(out));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError !== null) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('error', reject);
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

async function ackOf(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  const outcome = await emitOutcome(socket, event, payload);
  if (outcome.kind !== 'ack') throw new Error(`${event}: no ack (${outcome.kind})`);
  return outcome.ack;
}
