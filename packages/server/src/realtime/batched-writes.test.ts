import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { batchWrites } from './batched-writes.js';

/** Write system calls of this process so far (Linux). */
function writeSyscalls(): number {
  return Number(/syscw:\s+(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

describe('batchWrites', () => {
  let http: HttpServer | undefined;
  let server: Server | undefined;
  let client: ClientSocket | undefined;
  afterEach(async () => {
    client?.close();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    http?.close();
  });

  /** Emits `count` binary events to one client; → the write system calls the whole process made. */
  async function sendBinaryEvents(batched: boolean, count: number): Promise<{ writes: number; got: number[] }> {
    http = createServer();
    server = new Server(http, { serveClient: false });
    const ready = new Promise<ServerSocket>((resolve) =>
      server!.on('connection', (socket) => {
        if (batched) expect(batchWrites(socket.conn)).toBe(true);
        resolve(socket);
      }),
    );
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    const socket = await ready;
    const got: number[] = [];
    const all = new Promise<void>((resolve) =>
      client!.on('edited', (e: { n: number; update: ArrayBuffer }) => {
        const bytes = new Uint8Array(e.update);
        // The attachment arrives whole and with its own event.
        expect(bytes.length).toBe(64);
        expect(bytes.every((b) => b === e.n % 256)).toBe(true);
        got.push(e.n);
        if (got.length === count) resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const before = writeSyscalls();
    for (let n = 0; n < count; n++) {
      socket.emit('edited', { n, update: Buffer.alloc(64, n % 256) });
      // One event per macrotask, as edits arrive.
      await new Promise((r) => setImmediate(r));
    }
    await all;
    return { writes: writeSyscalls() - before, got };
  }

  it('sends an event with an attachment in one system call, in order, intact', async () => {
    const count = 200;
    const { writes, got } = await sendBinaryEvents(true, count);
    expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
    // One writev per event; a little slack for anything else the process writes meanwhile.
    expect(writes).toBeLessThan(count * 1.25);
  });

  it('without it, socket.io needs two (the measurement above can tell the difference)', async () => {
    const count = 200;
    const { writes, got } = await sendBinaryEvents(false, count);
    expect(got).toHaveLength(count);
    expect(writes).toBeGreaterThanOrEqual(count * 1.75);
  });

  it('leaves a connection without the expected shape alone', () => {
    expect(batchWrites({})).toBe(false);
  });
});
