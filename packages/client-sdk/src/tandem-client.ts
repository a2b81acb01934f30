import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { FileId, ShardId, TreeChange } from '@tandem/protocol';
import { request, type TandemSocket } from './socket-types.js';
import { ShardSession, type EarlyNotice } from './shard-session.js';
import { TandemError, unwrap } from './tandem-error.js';
import { Emitter } from './emitter.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';

export type TandemClientOptions = {
  /** Server base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Access token (JWT), or a function returning a fresh one before every (re)connect. */
  token: string | (() => string | Promise<string>);
  /**
   * socket.io transports. Default `['websocket']`: no sticky sessions needed when several
   * server instances sit behind one load balancer.
   */
  transports?: Array<'websocket' | 'polling' | 'webtransport'>;
  /** Extra socket.io-client options (reconnection delays, …). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
  /**
   * How long a session waits for each ack before counting it as lost: a lost edit is resynced
   * (never counted as saved), a lost file operation is sent again with the same id. Default 30 000.
   */
  ackTimeoutMs?: number;
  /**
   * How long a missed notice (a gap in the shard versions seen) or a remote update with missing
   * dependencies may stay unexplained before the session rejoins or resyncs the file. Default 1000.
   */
  gapWaitMs?: number;
  /** @internal a ready-made socket (tests use an in-memory fake); `url`, `token` and transports are then unused. */
  socket?: TandemSocket;
};

type ClientEvents = {
  status: [ConnectionStatus];
  /** The server refused the connection (bad or expired token). */
  error: [TandemError];
};

/**
 * Connects to a Tandem server and joins shards.
 * @example
 * const client = new TandemClient({ url: 'http://127.0.0.1:3000', token })
 * const session = await client.join(shardId)
 * const text = await session.openFile('src/App.tsx')
 */
export class TandemClient extends Emitter<ClientEvents> {
  readonly socket: TandemSocket;
  private readonly sessions = new Map<ShardId, ShardSession>();
  private currentStatus: ConnectionStatus = 'connecting';
  private closed = false;
  private readonly sessionOptions: { ackTimeoutMs?: number; gapWaitMs?: number };

  constructor(options: TandemClientOptions) {
    super();
    const token = options.token;
    this.sessionOptions = {
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      ...(options.gapWaitMs === undefined ? {} : { gapWaitMs: options.gapWaitMs }),
    };
    this.socket =
      options.socket ??
      (io(options.url, {
        transports: options.transports ?? ['websocket'],
        auth: (cb) => {
          if (typeof token === 'string') return cb({ token });
          void Promise.resolve(token()).then((t) => cb({ token: t }));
        },
        reconnectionDelay: 250,
        reconnectionDelayMax: 5000,
        ...options.socketOptions,
      }) as TandemSocket);
    this.socket.on('connect', () => {
      this.setStatus('connected');
      for (const session of this.sessions.values()) {
        session.rejoin().catch((error: unknown) => this.emit('error', asTandemError(error)));
      }
    });
    this.socket.on('disconnect', (reason) => {
      this.setStatus('disconnected');
      for (const session of this.sessions.values()) session.markOffline();
      // A server that shuts down (or ends an expired session) disconnects us on purpose, which
      // socket.io treats as final; reconnect anyway, to another instance behind the balancer
      // (with a fresh token when `token` is a function).
      if (reason === 'io server disconnect' && !this.closed) {
        setTimeout(
          () => {
            if (!this.closed && !this.socket.connected) this.socket.connect();
          },
          100 + Math.random() * 400,
        );
      }
    });
    this.socket.on('connect_error', (error: Error & { data?: unknown }) => {
      this.setStatus('disconnected');
      if (isErrorBody(error.data)) this.emit('error', new TandemError(error.data));
    });
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** Resolves once connected; rejects with the server's error if the handshake is refused. */
  connected(timeoutMs = 15_000): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new TandemError({ code: 'UNAVAILABLE', message: 'timed out connecting' }));
      }, timeoutMs);
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error & { data?: unknown }) => {
        if (!isErrorBody(error.data)) return;
        cleanup();
        reject(new TandemError(error.data));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        this.socket.off('connect_error', onError);
      };
      this.socket.on('connect', onConnect);
      this.socket.on('connect_error', onError);
    });
  }

  /** Joins a shard: loads it on the server if nobody had it open, and returns a session. */
  async join(shardId: ShardId | string): Promise<ShardSession> {
    const id = shardId as ShardId;
    const existing = this.sessions.get(id);
    if (existing !== undefined) return existing;
    await this.connected();
    // Notices can reach us before the join's ack: keep them, so the session applies the tree
    // changes newer than the tree it was given and counts their versions as seen (else they
    // would look like a gap and cost a rejoin).
    const early: EarlyNotice[] = [];
    const onTree = (e: { shardId: ShardId; change: TreeChange; version: number }) => {
      if (e.shardId === id) early.push({ change: e.change, version: e.version });
    };
    const onEdited = (e: { shardId: ShardId; fileId: FileId; version: number }) => {
      if (e.shardId === id) early.push({ version: e.version });
    };
    this.socket.on('tree:changed', onTree);
    this.socket.on('file:edited', onEdited);
    try {
      const joined = unwrap(
        await request(this.socket, 'shard:join', { shardId: id }, this.sessionOptions.ackTimeoutMs),
      );
      const session = new ShardSession(this.socket, joined, early, this.sessionOptions);
      this.sessions.set(id, session);
      // A deleted shard's session is over: a later join() starts afresh (and fails, SHARD_NOT_FOUND).
      session.on('deleted', () => {
        if (this.sessions.get(id) === session) this.sessions.delete(id);
      });
      return session;
    } finally {
      this.socket.off('tree:changed', onTree);
      this.socket.off('file:edited', onEdited);
    }
  }

  /** Leaves a shard. */
  async leave(shardId: ShardId | string): Promise<void> {
    const session = this.sessions.get(shardId as ShardId);
    if (session === undefined) return;
    this.sessions.delete(shardId as ShardId);
    await session.leave();
  }

  /** Leaves every shard and disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.keys()].map((id) => this.leave(id)));
    this.socket.disconnect();
    this.setStatus('disconnected');
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.emit('status', status);
  }
}

function isErrorBody(value: unknown): value is { code: string; message: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

function asTandemError(error: unknown): TandemError {
  if (error instanceof TandemError) return error;
  return new TandemError({ code: 'UNAVAILABLE', message: error instanceof Error ? error.message : String(error) });
}
