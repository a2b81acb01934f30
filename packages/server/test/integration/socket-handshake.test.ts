import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { Cluster, Redis } from 'ioredis';
import {
  attachSocketServer,
  createSocketServer,
  type TandemServer,
  type TandemSocket,
} from '../../src/realtime/index.js';
import { testConfig } from '../support/test-app.js';
import { createTestRedis, uniquePrefix } from '../support/services.js';

/** What a connected socket keeps of its handshake (memory per idle connection). */
describe('socket handshake', () => {
  let pub: Redis | Cluster;
  let sub: Redis | Cluster;
  let io: TandemServer;
  let http: HttpServer;
  let url: string;
  const tokens: unknown[] = [];
  const connected: TandemSocket[] = [];
  const upgrades: Array<WeakRef<IncomingMessage>> = [];

  beforeAll(async () => {
    pub = createTestRedis();
    sub = createTestRedis();
    const prefix = uniquePrefix();
    io = createSocketServer({
      pubClient: pub,
      subClient: sub,
      keyPrefix: prefix,
      shardedPubSub: false,
      limits: testConfig(prefix, 'sqlite::memory:').limits,
      corsOrigins: [],
    });
    // What SocketService does: the middleware reads the token before `connection`.
    io.use((socket, next) => {
      tokens.push(socket.handshake.auth['token']);
      next();
    });
    io.on('connection', (socket) => {
      connected.push(socket);
      socket.on('shard:leave', (_payload, ack) => ack({ ok: true, data: null }));
    });
    http = createServer();
    http.on('upgrade', (request: IncomingMessage) => upgrades.push(new WeakRef(request)));
    attachSocketServer(io, http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    io.engine.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    pub.disconnect();
    sub.disconnect();
  });

  it('lets go of the upgrade request, headers and token once connected; events still flow', async () => {
    const client: Socket = connect(url, {
      transports: ['websocket'],
      auth: { token: 'secret-token' },
      reconnection: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('connect_error', reject);
      });
      expect(tokens).toEqual(['secret-token']);
      const socket = connected[0]!;
      expect(socket.conn.request).toBeNull();
      expect(socket.handshake.headers).toEqual({});
      expect(socket.handshake.query).toEqual({});
      expect(socket.handshake.auth).toEqual({});
      const ack = (await client.timeout(5000).emitWithAck('shard:leave', { shardId: 'x' })) as unknown;
      expect(ack).toEqual({ ok: true, data: null });
    } finally {
      client.disconnect();
    }
  });

  it('lets the upgrade request be collected while the connection stays open', async () => {
    const client: Socket = connect(url, { transports: ['websocket'], auth: { token: 't' }, reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('connect_error', reject);
      });
      const upgrade = upgrades[upgrades.length - 1]!;
      // A full collection (the flag exposes gc to a new context only: the worker keeps its flags).
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      expect(upgrade.deref()).toBeUndefined();
      // Still connected and answering.
      const ack = (await client.timeout(5000).emitWithAck('shard:leave', { shardId: 'x' })) as unknown;
      expect(ack).toEqual({ ok: true, data: null });
    } finally {
      client.disconnect();
    }
  });
});
