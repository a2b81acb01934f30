/**
 * An in-memory stand-in for the socket.io transport, for unit tests of the session: a FakeSocket
 * implements the few socket.io-client methods the SDK uses (on, off, emit, timeout().emitWithAck,
 * connected), and a FakeServer answers like a Tandem server (one shard clock, Yjs docs, opIds).
 * Tests steer it: hide a notice, drop or refuse acks, cut the connection.
 */
import * as Y from 'yjs';
import { TEXT_NAME, type Ack, type ErrorBody, type FileEntry, type FileId, type ShardId } from '@tandem/protocol';
import type { TandemSocket } from './socket-types.js';

type Listener = (...args: unknown[]) => void;
type Payload = Record<string, unknown>;

/**
 * What a test hook decides for one request: default handling; `drop`: handled but no ack (the
 * ack was lost); `lose`: never reached the server (no ack either); or this ack instead.
 */
export type Verdict = 'default' | 'drop' | 'lose' | Ack<unknown>;

export const SHARD_ID = '00000000-0000-4000-8000-000000000001' as ShardId;

export class FakeServer {
  clock = 0;
  savedVersion = 0;
  /** The run of the clock (JoinResult.clock): a new one each time Redis loses the shard. */
  clockRun = { id: 'run-1', base: 0 };
  readonly tree = new Map<FileId, string>();
  readonly docs = new Map<FileId, Y.Doc>();
  private readonly ops = new Map<string, Ack<unknown>>();
  readonly room = new Set<FakeSocket>();
  readonly log: Array<{ event: string; payload: Payload }> = [];
  maxUpdateBytes = Infinity;
  /** Versions whose notice is never sent (as if the instance died before broadcasting). */
  readonly hidden = new Set<number>();
  hook: (event: string, payload: Payload) => Verdict = () => 'default';
  /** Delay of the ack of an event, in ms (notices sent meanwhile overtake it). */
  readonly ackDelayMs = new Map<string, number>();
  /** Delay before the server handles an event, in ms (as a request waiting for a load). */
  readonly handleDelayMs = new Map<string, number>();
  private nextId = 0;

  constructor(files: Record<string, string> = {}) {
    for (const [path, text] of Object.entries(files)) this.addFile(path, text);
  }

  addFile(path: string, text: string, id = `file-${String(++this.nextId).padStart(4, '0')}` as FileId): FileId {
    const doc = new Y.Doc();
    doc.getText(TEXT_NAME).insert(0, text);
    this.docs.set(id, doc);
    this.tree.set(id, path);
    return id;
  }

  text(path: string): string | undefined {
    for (const [id, p] of this.tree) if (p === path) return this.docs.get(id)?.getText(TEXT_NAME).toString();
    return undefined;
  }

  /** A file's text as the database holds it (the last save()). */
  savedText(path: string): string | undefined {
    for (const { path: p, state } of this.stored.values()) {
      if (p !== path) continue;
      const doc = new Y.Doc();
      Y.applyUpdate(doc, state);
      return doc.getText(TEXT_NAME).toString();
    }
    return undefined;
  }

  /** A change made by someone not connected through a fake socket (takes a version, broadcast to all). */
  editAsOther(path: string, edit: (text: Y.Text) => void): number {
    const id = [...this.tree].find(([, p]) => p === path)![0];
    const doc = this.docs.get(id)!;
    let update: Uint8Array | undefined;
    const capture = (u: Uint8Array) => (update = u);
    doc.on('update', capture);
    edit(doc.getText(TEXT_NAME));
    doc.off('update', capture);
    const version = ++this.clock;
    this.broadcast(null, 'file:edited', { shardId: SHARD_ID, fileId: id, update: update!, version });
    return version;
  }

  /** What the database holds since the last save(): each file's path and Yjs state. */
  private stored = new Map<FileId, { path: string; state: Uint8Array }>();

  /** The database caught up to the clock. */
  save(): void {
    this.savedVersion = this.clock;
    this.stored = new Map(
      [...this.tree].map(([id, path]) => [id, { path, state: Y.encodeStateAsUpdate(this.docs.get(id)!) }]),
    );
    this.broadcast(null, 'shard:saved', { shardId: SHARD_ID, version: this.clock, files: [] });
  }

  /** Redis lost the shard: the tree and docs go back to `files`, the clock to the saved version. */
  lose(files: Record<string, { id: FileId; text: string }>): void {
    this.tree.clear();
    this.docs.clear();
    this.ops.clear();
    for (const [path, f] of Object.entries(files)) this.addFile(path, f.text, f.id);
    this.clock = this.savedVersion;
    this.clockRun = { id: `run-${Number(this.clockRun.id.slice(4)) + 1}`, base: this.clock };
    this.broadcast(null, 'shard:resync', { shardId: SHARD_ID });
  }

  /** Redis lost the shard and it was loaded again from the database, as the last save() left it. */
  loseToSaved(): void {
    this.tree.clear();
    this.docs.clear();
    this.ops.clear();
    for (const [id, { path, state }] of this.stored) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, state);
      this.docs.set(id, doc);
      this.tree.set(id, path);
    }
    this.clock = this.savedVersion;
    this.clockRun = { id: `run-${Number(this.clockRun.id.slice(4)) + 1}`, base: this.clock };
    this.broadcast(null, 'shard:resync', { shardId: SHARD_ID });
  }

  broadcast(except: FakeSocket | null, event: string, payload: Payload): void {
    if (typeof payload['version'] === 'number' && this.hidden.has(payload['version'])) return;
    for (const s of this.room) if (s !== except) s.deliver(event, payload);
  }

  handle(socket: FakeSocket, event: string, payload: Payload): Ack<unknown> | 'drop' {
    this.log.push({ event, payload });
    const verdict = this.hook(event, payload);
    if (verdict === 'lose') return 'drop';
    if (verdict !== 'default' && verdict !== 'drop') return verdict;
    const ack = this.apply(socket, event, payload);
    return verdict === 'drop' ? 'drop' : ack;
  }

  private apply(socket: FakeSocket, event: string, p: Payload): Ack<unknown> {
    const fail = (code: ErrorBody['code'], message: string = code): Ack<unknown> => ({
      ok: false,
      error: { code, message },
    });
    if (event !== 'shard:join' && event !== 'shard:leave' && !this.room.has(socket)) return fail('NOT_JOINED');
    switch (event) {
      case 'shard:join': {
        this.room.add(socket);
        const version = this.clock;
        setTimeout(() => this.broadcast(socket, 'presence:requested', { shardId: SHARD_ID, version }), 0);
        return {
          ok: true,
          data: {
            shard: {
              id: SHARD_ID,
              name: 'fake',
              templateId: 'vanilla',
              templateRevision: 1,
              dependencies: {},
              devDependencies: {},
              createdAt: '',
              updatedAt: '',
              lastSyncTimestamp: this.savedVersion,
            },
            files: [...this.tree].map(([id, path]) => ({ id, path })),
            canWrite: true,
            version,
            clock: this.clockRun,
          },
        };
      }
      case 'shard:leave':
        this.room.delete(socket);
        return { ok: true, data: null };
      case 'file:sync': {
        const doc = this.docs.get(p['fileId'] as FileId);
        if (doc === undefined) return fail('FILE_NOT_FOUND');
        return {
          ok: true,
          data: {
            fileId: p['fileId'],
            update: Y.encodeStateAsUpdate(doc, p['stateVector'] as Uint8Array),
            stateVector: Y.encodeStateVector(doc),
            version: this.clock,
          },
        };
      }
      case 'file:edit': {
        const doc = this.docs.get(p['fileId'] as FileId);
        const update = p['update'] as Uint8Array;
        if (doc === undefined) return fail('FILE_NOT_FOUND');
        if (update.byteLength > this.maxUpdateBytes) return fail('PAYLOAD_TOO_LARGE', 'update too large');
        Y.applyUpdate(doc, update);
        const version = ++this.clock;
        this.broadcast(socket, 'file:edited', { shardId: SHARD_ID, fileId: p['fileId'], update, version });
        return { ok: true, data: { version } };
      }
      case 'file:create':
      case 'file:rename':
      case 'file:delete': {
        const opId = p['opId'] as string | undefined;
        const known = opId === undefined ? undefined : this.ops.get(opId);
        if (known !== undefined) return known;
        const result = this.treeOp(event, p);
        if (!result.ok) return result;
        const version = ++this.clock;
        const data = { ...result.data, version };
        const ack: Ack<unknown> = { ok: true, data };
        if (opId !== undefined) this.ops.set(opId, ack);
        this.broadcast(null, 'tree:changed', { shardId: SHARD_ID, change: result.change, version });
        return ack;
      }
      default:
        return fail('NOT_FOUND');
    }
  }

  private treeOp(
    event: string,
    p: Payload,
  ): { ok: true; data: Payload; change: unknown } | { ok: false; error: ErrorBody } {
    const taken = (path: string, except: Set<FileId> = new Set()) =>
      [...this.tree].some(
        ([id, q]) =>
          !except.has(id) &&
          (q.toLowerCase() === path.toLowerCase() || q.startsWith(`${path}/`) || path.startsWith(`${q}/`)),
      );
    const under = (path: string) => [...this.tree].filter(([, q]) => q === path || q.startsWith(`${path}/`));
    if (event === 'file:create') {
      const path = p['path'] as string;
      if (taken(path)) return { ok: false, error: { code: 'FILE_EXISTS', message: 'exists' } };
      const id = this.addFile(path, '', (p['fileId'] as FileId | undefined) ?? undefined);
      const file: FileEntry = { id, path };
      return { ok: true, data: { file }, change: { kind: 'created', file } };
    }
    if (event === 'file:rename') {
      const from = p['from'] as string;
      const to = p['to'] as string;
      const moving = under(from);
      if (moving.length === 0) return { ok: false, error: { code: 'FILE_NOT_FOUND', message: 'not found' } };
      if (taken(to, new Set(moving.map(([id]) => id))))
        return { ok: false, error: { code: 'FILE_EXISTS', message: 'exists' } };
      const moves = moving.map(([id, q]) => ({ id, from: q, to: to + q.slice(from.length) }));
      for (const m of moves) this.tree.set(m.id, m.to);
      return { ok: true, data: { moves }, change: { kind: 'renamed', moves } };
    }
    const gone = under(p['path'] as string);
    if (gone.length === 0) return { ok: false, error: { code: 'FILE_NOT_FOUND', message: 'not found' } };
    const files = gone.map(([id, path]) => ({ id, path }));
    for (const f of files) {
      this.tree.delete(f.id);
      this.docs.delete(f.id);
    }
    return { ok: true, data: { files }, change: { kind: 'deleted', files } };
  }
}

export class FakeSocket {
  connected = true;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly pending = new Set<(error: Error) => void>();

  constructor(readonly server: FakeServer) {}

  /** The socket as the SDK types it. */
  get typed(): TandemSocket {
    return this as unknown as TandemSocket;
  }

  on(event: string, listener: Listener): this {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  emit(event: string, payload: Payload): this {
    if (this.connected) this.server.log.push({ event, payload });
    return this;
  }

  timeout(ms: number): { emitWithAck(event: string, payload: Payload): Promise<unknown> } {
    return {
      emitWithAck: (event, payload) =>
        new Promise((resolve, reject) => {
          const fail = (error: Error) => {
            clearTimeout(timer);
            this.pending.delete(fail);
            reject(error);
          };
          const timer = setTimeout(() => fail(new Error('operation has timed out')), ms);
          this.pending.add(fail);
          // Sent while disconnected: socket.io buffers it; the fake loses it (the ack times out).
          if (!this.connected) return;
          setTimeout(
            () => {
              if (!this.connected) return;
              const ack = this.server.handle(this, event, payload);
              if (ack === 'drop') return;
              setTimeout(
                () => {
                  if (!this.pending.has(fail)) return;
                  clearTimeout(timer);
                  this.pending.delete(fail);
                  resolve(ack);
                },
                this.server.ackDelayMs.get(event) ?? 0,
              );
            },
            this.server.handleDelayMs.get(event) ?? 0,
          );
        }),
    };
  }

  /** A server notice, delivered on the next tick (as from the network). */
  deliver(event: string, payload: Payload): void {
    setTimeout(() => {
      if (this.connected) this.fire(event, payload);
    }, 0);
  }

  disconnect(): void {
    this.connected = false;
    this.server.room.delete(this);
    for (const fail of [...this.pending]) fail(new Error('socket has been disconnected'));
    this.fire('disconnect', 'transport close');
  }

  reconnect(): void {
    this.connected = true;
    this.fire('connect');
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const l of [...(this.listeners.get(event) ?? [])]) l(...args);
  }
}
