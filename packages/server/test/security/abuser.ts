/**
 * The abusive clients of abuse.test.ts, in their own process so their client-side work does not
 * slow down the well-behaved client the test measures. Reads its orders from ABUSE_ORDERS (JSON,
 * see `Orders`), floods the server for `durationMs`, then prints one JSON line with what the
 * server answered (a count per flood and per outcome) and exits.
 *
 *   ABUSE_ORDERS='{…}' node --conditions=source --import tsx packages/server/test/security/abuser.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';

export type Orders = {
  url: string;
  shardId: string;
  /** The file the edit floods write to. */
  fileId: string;
  durationMs: number;
  /** Events per second each flooding socket tries to send. */
  eventsPerSecond: number;
  tokens: { edits: string; presence: string; joins: string; connections: string; oversized: string; rest: string };
  editSockets: number;
  presenceSockets: number;
  joinSockets: number;
  /** Handshakes per second of the connection flood (a user opening socket after socket). */
  connectionsPerSecond: number;
  /** Bytes of the oversized updates (over MAX_UPDATE_BYTES) one socket keeps sending, and how many per second. */
  oversizedUpdateBytes: number;
  oversizedPerSecond: number;
  /** REST requests per second with a body over HTTP_BODY_LIMIT_BYTES, and with a file over MAX_FILE_BYTES. */
  restPerSecond: number;
  restBodyBytes: number;
  restFileBytes: number;
};

/** Flood name → outcome (`ok`, an error code, `connected`, `HTTP <status> <code>`, `timeout`) → count. */
export type AbuseReport = Record<string, Record<string, number>>;

const orders = JSON.parse(process.env['ABUSE_ORDERS'] ?? '{}') as Orders;
const report: AbuseReport = {};
const until = Date.now() + orders.durationMs;
const sockets: Socket[] = [];
/** Awareness instances run a timer; destroyed at the end so the process can exit. */
const awarenesses: Awareness[] = [];

function count(flood: string, outcome: string): void {
  const row = (report[flood] ??= {});
  row[outcome] = (row[outcome] ?? 0) + 1;
}

function connect(token: string): Promise<Socket | string> {
  const socket = io(orders.url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      sockets.push(socket);
      resolve(socket);
    });
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.close();
      resolve(error.data?.code ?? '(no code)');
    });
  });
}

async function joined(token: string): Promise<Socket> {
  const socket = await connect(token);
  if (typeof socket === 'string') throw new Error(`abuser handshake refused: ${socket}`);
  const ack = (await socket.timeout(10_000).emitWithAck('shard:join', { shardId: orders.shardId })) as { ok: boolean };
  if (!ack.ok) throw new Error('abuser could not join');
  return socket;
}

/** Sends `make()` events at `eventsPerSecond`, in 10 ms batches, until the time is up; counts the acks. */
async function flood(
  name: string,
  socket: Socket,
  make: () => [string, unknown],
  eventsPerSecond = orders.eventsPerSecond,
): Promise<void> {
  const perBatch = Math.max(1, Math.round(eventsPerSecond / 100));
  const pending: Array<Promise<void>> = [];
  while (Date.now() < until && socket.connected) {
    for (let i = 0; i < perBatch; i++) {
      const [event, payload] = make();
      pending.push(
        socket
          .timeout(10_000)
          .emitWithAck(event, payload)
          .then(
            (ack: { ok: boolean; error?: { code: string } }) =>
              count(name, ack.ok ? 'ok' : (ack.error?.code ?? '(no code)')),
            () => count(name, 'timeout'),
          ),
      );
    }
    await sleep(10);
  }
  await Promise.all(pending);
}

function editFlood(index: number): Promise<void> {
  return joined(orders.tokens.edits).then((socket) => {
    const doc = new Y.Doc();
    const text = doc.getText('content');
    return flood('edits', socket, () => {
      const before = Y.encodeStateVector(doc);
      text.insert(0, `e${index}`);
      return [
        'file:edit',
        { shardId: orders.shardId, fileId: orders.fileId, update: Y.encodeStateAsUpdate(doc, before) },
      ];
    });
  });
}

function presenceFlood(): Promise<void> {
  return joined(orders.tokens.presence).then((socket) => {
    const awareness = new Awareness(new Y.Doc());
    awarenesses.push(awareness);
    let cursor = 0;
    return flood('presence', socket, () => {
      awareness.setLocalStateField('cursor', cursor++);
      return [
        'presence:update',
        { shardId: orders.shardId, update: encodeAwarenessUpdate(awareness, [awareness.clientID]) },
      ];
    });
  });
}

function joinFlood(): Promise<void> {
  return joined(orders.tokens.joins).then((socket) =>
    flood('joins', socket, () => ['shard:join', { shardId: orders.shardId }]),
  );
}

function oversizedFlood(): Promise<void> {
  return joined(orders.tokens.oversized).then((socket) => {
    const update = new Uint8Array(orders.oversizedUpdateBytes).fill(7);
    return flood(
      'oversized-updates',
      socket,
      () => ['file:edit', { shardId: orders.shardId, fileId: orders.fileId, update }],
      orders.oversizedPerSecond,
    );
  });
}

async function connectionFlood(): Promise<void> {
  // At the ordered rate whatever a handshake takes: waiting for each one held a loaded machine's
  // flood to 15 handshakes in 6 s, under the connection cap it is there to hit.
  const gapMs = 1000 / orders.connectionsPerSecond;
  const handshakes: Array<Promise<void>> = [];
  while (Date.now() < until) {
    handshakes.push(
      connect(orders.tokens.connections).then((outcome) =>
        count('connections', typeof outcome === 'string' ? outcome : 'connected'),
      ),
    );
    await sleep(gapMs);
  }
  await Promise.all(handshakes);
}

async function restFlood(): Promise<void> {
  const gapMs = 1000 / orders.restPerSecond;
  const overLimit = JSON.stringify({ content: 'x'.repeat(orders.restBodyBytes) });
  const tooLargeFile = JSON.stringify({ content: 'y'.repeat(orders.restFileBytes) });
  const headers = { authorization: `Bearer ${orders.tokens.rest}`, 'content-type': 'application/json' };
  let i = 0;
  while (Date.now() < until) {
    const body = i++ % 2 === 0 ? overLimit : tooLargeFile;
    const res = await fetch(`${orders.url}/shards/${orders.shardId}/files/huge.txt`, {
      method: 'PUT',
      headers,
      body,
    }).catch(() => null);
    if (res === null) {
      count('rest', 'network error');
    } else {
      const parsed = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      count('rest', `HTTP ${res.status} ${parsed.error?.code ?? ''}`.trim());
    }
    await sleep(gapMs);
  }
}

const floods: Array<Promise<void>> = [];
for (let i = 0; i < orders.editSockets; i++) floods.push(editFlood(i));
for (let i = 0; i < orders.presenceSockets; i++) floods.push(presenceFlood());
for (let i = 0; i < orders.joinSockets; i++) floods.push(joinFlood());
floods.push(oversizedFlood(), connectionFlood(), restFlood());
const results = await Promise.allSettled(floods);
for (const r of results) if (r.status === 'rejected') count('abuser errors', String(r.reason));
for (const socket of sockets) socket.close();
for (const awareness of awarenesses) awareness.destroy();
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
