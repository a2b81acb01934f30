import WebSocket from 'ws';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { TandemClient } from '@tandem/client-sdk';
import type { FileId, ShardId } from '@tandem/protocol';

/**
 * One client's connection to one shared document, whatever the server: connect, join, run the
 * initial sync, then send and receive Yjs updates (and awareness updates). None of these clients
 * uses BroadcastChannel (the y-websocket and Hocuspocus *providers* do, unless disabled; these
 * are minimal protocol clients), so every update travels through the server.
 */
export interface Transport {
  /** Connects, joins, and resolves with the server's state of the document (a Yjs update). */
  open(): Promise<Uint8Array>;
  send(update: Uint8Array): void;
  sendAwareness(update: Uint8Array): void;
  /** Set by the owner before open(). */
  onUpdate: (update: Uint8Array) => void;
  onAwareness: (update: Uint8Array) => void;
  /** Resolves when every sent update is acknowledged (Tandem); immediately for the others. */
  settled(timeoutMs: number): Promise<void>;
  /** A fresh copy of the server's state (Tandem: file:sync), for the convergence check. */
  serverState?(): Promise<Uint8Array>;
  close(): void;
  readonly stats: { refused: number; disconnects: number; acked: number };
}

const EMPTY_STATE_VECTOR = new Uint8Array([0]);

type LooseSocket = {
  connected: boolean;
  on(event: string, listener: (...args: never[]) => void): void;
  emit(event: string, ...args: unknown[]): void;
  timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> };
};

type AckBody = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

function unwrapAck<T>(ack: unknown, what: string): T {
  const body = ack as AckBody;
  if (!body.ok) throw new Error(`${what} refused: ${body.error.code} ${body.error.message}`);
  return body.data as T;
}

function u8(value: Uint8Array | ArrayBuffer): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}

/** Tandem through the client SDK's connection (connect, auth) and its socket (join, file events). */
export class TandemTransport implements Transport {
  onUpdate: (update: Uint8Array) => void = () => undefined;
  onAwareness: (update: Uint8Array) => void = () => undefined;
  readonly stats = { refused: 0, disconnects: 0, acked: 0 };
  private client: TandemClient | undefined;
  private socket: LooseSocket | undefined;
  private fileId: FileId | undefined;
  private inFlight = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly shardId: ShardId,
    private readonly path: string,
  ) {}

  async open(): Promise<Uint8Array> {
    const client = new TandemClient({ url: this.url, token: this.token, socketOptions: { reconnection: false } });
    this.client = client;
    const socket = client.socket as unknown as LooseSocket;
    this.socket = socket;
    socket.on('disconnect', () => {
      this.stats.disconnects++;
    });
    await client.connected();
    // Joined with the socket event, not an SDK session: a session watches the shard's versions
    // for gaps (protocol §8), and this client's own edits, sent on the socket below, would be
    // gaps to it (their versions come back only in these acks), so it would rejoin about once
    // per gapWaitMs and the bench would measure rejoins, not edits.
    const joined = unwrapAck<{ files: Array<{ id: FileId; path: string }> }>(
      await socket.timeout(30_000).emitWithAck('shard:join', { shardId: this.shardId }),
      'shard:join',
    );
    const fileId = joined.files.find((f) => f.path === this.path)?.id;
    if (fileId === undefined) throw new Error(`no file ${this.path} in shard ${this.shardId}`);
    this.fileId = fileId;
    // Listen before syncing: edits may overtake the sync's ack (protocol §7).
    socket.on('file:edited', ((e: { shardId: string; fileId: string; update: Uint8Array }) => {
      if (e.fileId === fileId) this.onUpdate(u8(e.update));
    }) as (...args: never[]) => void);
    socket.on('presence:updated', ((e: { shardId: string; update: Uint8Array }) => {
      if (e.shardId === this.shardId) this.onAwareness(u8(e.update));
    }) as (...args: never[]) => void);
    return this.serverState();
  }

  async serverState(): Promise<Uint8Array> {
    const ack = await this.socket!.timeout(30_000).emitWithAck('file:sync', {
      shardId: this.shardId,
      fileId: this.fileId,
      stateVector: EMPTY_STATE_VECTOR,
    });
    return u8(unwrapAck<{ update: Uint8Array }>(ack, 'file:sync').update);
  }

  send(update: Uint8Array): void {
    this.inFlight++;
    this.socket!.emit('file:edit', { shardId: this.shardId, fileId: this.fileId, update }, (ack: AckBody) => {
      this.inFlight--;
      if (ack.ok) this.stats.acked++;
      else this.stats.refused++;
    });
  }

  sendAwareness(update: Uint8Array): void {
    this.socket!.emit('presence:update', { shardId: this.shardId, update });
  }

  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    this.client?.socket.disconnect();
  }
}

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const SYNC_STEP1 = 0;
const SYNC_STEP2 = 1;
const SYNC_UPDATE = 2;

/**
 * The y-websocket protocol (the relay baseline) and Hocuspocus's variant of it (every message
 * prefixed with the document name; an auth message first; SyncReply/SyncStatus/Auth types).
 */
export class YProtocolTransport implements Transport {
  onUpdate: (update: Uint8Array) => void = () => undefined;
  onAwareness: (update: Uint8Array) => void = () => undefined;
  readonly stats = { refused: 0, disconnects: 0, acked: 0 };
  private ws: WebSocket | undefined;
  private closing = false;

  /** `docName` set: the Hocuspocus framing; otherwise y-websocket's (the room is the URL path). */
  constructor(
    private readonly url: string,
    private readonly room: string,
    private readonly hocuspocus: boolean,
  ) {}

  private frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
    const encoder = encoding.createEncoder();
    if (this.hocuspocus) encoding.writeVarString(encoder, this.room);
    write(encoder);
    return encoding.toUint8Array(encoder);
  }

  open(): Promise<Uint8Array> {
    const ws = new WebSocket(this.hocuspocus ? this.url : `${this.url}/${encodeURIComponent(this.room)}`, {
      perMessageDeflate: false,
    });
    this.ws = ws;
    return new Promise((resolve, reject) => {
      let opened = false;
      const timer = setTimeout(() => reject(new Error(`no initial sync from ${this.url} in 30 s`)), 30_000);
      ws.on('error', (error) => {
        if (!opened) reject(error);
      });
      ws.on('close', () => {
        if (!this.closing) this.stats.disconnects++;
      });
      ws.on('open', () => {
        if (this.hocuspocus) {
          // Auth (type 2), Token (0): Hocuspocus queues everything else until this arrives.
          ws.send(
            this.frame((e) => {
              encoding.writeVarUint(e, 2);
              encoding.writeVarUint(e, 0);
              encoding.writeVarString(e, 'bench');
            }),
          );
        }
        ws.send(
          this.frame((e) => {
            encoding.writeVarUint(e, MESSAGE_SYNC);
            encoding.writeVarUint(e, SYNC_STEP1);
            encoding.writeVarUint8Array(e, EMPTY_STATE_VECTOR);
          }),
        );
      });
      ws.on('message', (data: Buffer) => {
        const decoder = decoding.createDecoder(data);
        if (this.hocuspocus) decoding.readVarString(decoder);
        const type = decoding.readVarUint(decoder);
        // Hocuspocus: 4 = SyncReply (a sync message that needs no step 1 back).
        if (type === MESSAGE_SYNC || (this.hocuspocus && type === 4)) {
          const step = decoding.readVarUint(decoder);
          const payload = decoding.readVarUint8Array(decoder);
          if (step === SYNC_STEP1) {
            // The server asks what we have that it lacks: nothing at this point (we only open
            // fresh documents), and later every edit has already been sent as an update.
            ws.send(
              this.frame((e) => {
                encoding.writeVarUint(e, MESSAGE_SYNC);
                encoding.writeVarUint(e, SYNC_STEP2);
                encoding.writeVarUint8Array(e, new Uint8Array([0, 0]));
              }),
            );
          } else if (step === SYNC_STEP2 && !opened) {
            opened = true;
            clearTimeout(timer);
            resolve(payload);
          } else {
            this.onUpdate(payload);
          }
        } else if (type === MESSAGE_AWARENESS) {
          this.onAwareness(decoding.readVarUint8Array(decoder));
        }
        // Others (Hocuspocus auth replies, sync status, query awareness) need no answer here.
      });
    });
  }

  send(update: Uint8Array): void {
    this.ws!.send(
      this.frame((e) => {
        encoding.writeVarUint(e, MESSAGE_SYNC);
        encoding.writeVarUint(e, SYNC_UPDATE);
        encoding.writeVarUint8Array(e, update);
      }),
    );
  }

  sendAwareness(update: Uint8Array): void {
    this.ws!.send(
      this.frame((e) => {
        encoding.writeVarUint(e, MESSAGE_AWARENESS);
        encoding.writeVarUint8Array(e, update);
      }),
    );
  }

  async settled(): Promise<void> {
    // No acks in these protocols: wait until the socket's send buffer is empty.
    while ((this.ws?.bufferedAmount ?? 0) > 0) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closing = true;
    this.ws?.close();
  }
}
