import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { ShardId, TreeChange } from '@tandem/protocol';
import { request, type TandemSocket } from './socket-types.js';
import { ShardSession } from './shard-session.js';
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

  constructor(options: TandemClientOptions) {
    super();
    const token = options.token;
    this.socket = io(options.url, {
      transports: options.transports ?? ['websocket'],
      auth: (cb) => {
        if (typeof token === 'string') return cb({ token });
        void Promise.resolve(token()).then((t) => cb({ token: t }));
      },
      reconnectionDelay: 250,
      reconnectionDelayMax: 5000,
      ...options.socketOptions,
    }) as TandemSocket;
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
    // Tree changes can reach us before the join's ack; keep them and let the session apply
    // the ones newer than the tree it was given.
    const early: Array<{ change: TreeChange; version: number }> = [];
    const onTree = (e: { shardId: ShardId; change: TreeChange; version: number }) => {
      if (e.shardId === id) early.push({ change: e.change, version: e.version });
    };
    this.socket.on('tree:changed', onTree);
    try {
      const joined = unwrap(await request(this.socket, 'shard:join', { shardId: id }));
      const session = new ShardSession(this.socket, joined, early);
      this.sessions.set(id, session);
      return session;
    } finally {
      this.socket.off('tree:changed', onTree);
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
