import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import type { ShardId } from '@tandem/protocol';
import { Samples } from '../stats.js';
import { BenchClient } from './bench-client.js';
import { DeliveryTracker } from './delivery-tracker.js';
import { TandemTransport, YProtocolTransport, type Transport } from './transports.js';
import { UsageMeter } from './usage-meter.js';
import { signToken } from '../targets/jwt.js';
import type { FanoutJob, FanoutResult, FromGenerator } from './jobs.js';

/** A token for bench user `n`: write access to every shard (one user per client, as in real use). */
export function userToken(secret: string | undefined, n: number): string {
  return signToken({ sub: `bench-user-${n}`, role: 'user', shards: { '*': 'write' } }, secret);
}

export function makeTransport(
  job: { target: FanoutJob['target']; secret?: string },
  url: string,
  room: string,
  n: number,
  path = 'index.html',
): Transport {
  switch (job.target) {
    case 'tandem':
      return new TandemTransport(url, userToken(job.secret, n), room as ShardId, path);
    case 'relay':
      return new YProtocolTransport(url, room, false);
    case 'hocuspocus':
      return new YProtocolTransport(url, room, true);
  }
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await run(item);
    }
  });
  await Promise.all(workers);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * R rooms × C clients; each typist inserts a character at a random position every T ms.
 * Latency is measured per delivered update by item id; presence (when on) per awareness entry.
 */
export async function runFanout(job: FanoutJob, report: (m: FromGenerator) => void): Promise<FanoutResult> {
  const tracker = new DeliveryTracker();
  const C = job.clientsPerRoom;
  const typists = Math.min(C, job.typistsPerRoom ?? C);
  const presenceSent = new Map<number, { t: number; measured: boolean }>();
  const presenceLatency = new Samples();
  let presenceMessages = 0;
  let presenceBytes = 0;
  let measuringPresence = false;
  const onAwareness = (update: Uint8Array, self: BenchClient) => {
    if (measuringPresence) {
      presenceMessages++;
      presenceBytes += update.byteLength;
    }
    const now = performance.now();
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const id = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      decoding.readVarString(decoder);
      if (id === self.awarenessId) continue;
      const sent = presenceSent.get(id * 2_097_152 + clock);
      if (sent?.measured === true) presenceLatency.add(now - sent.t);
    }
  };

  const rooms: BenchClient[][] = [];
  let k = 0;
  for (const room of job.rooms) {
    const clients: BenchClient[] = [];
    for (let c = 0; c < C; c++) {
      const url = job.urls[k % job.urls.length]!;
      clients.push(new BenchClient(makeTransport(job, url, room.room, k, room.path), tracker, C - 1, onAwareness));
      k++;
    }
    rooms.push(clients);
  }
  const all = rooms.flat();
  const connectMs = new Samples();
  const open = async (client: BenchClient) => {
    const t = performance.now();
    await client.open();
    connectMs.add(performance.now() - t);
  };
  try {
    // First client of each room (and the seed), then everyone else.
    await pool(rooms, job.connectConcurrency, async (clients) => {
      const first = clients[0]!;
      await open(first);
      if (job.seedText !== undefined) {
        first.insertUntracked(job.seedText);
        await first.transport.settled(5000);
      }
    });
    if (job.seedText !== undefined) await sleep(300);
    await pool(
      rooms.flatMap((clients) => clients.slice(1)),
      job.connectConcurrency,
      open,
    );

    const timers: NodeJS.Timeout[] = [];
    for (const clients of rooms) {
      clients.slice(0, typists).forEach((client) => {
        const start = setTimeout(() => {
          client.edit();
          timers.push(setInterval(() => client.edit(), job.editIntervalMs));
        }, Math.random() * job.editIntervalMs);
        timers.push(start);
      });
      if (job.presenceIntervalMs !== undefined) {
        for (const client of clients) {
          const start = setTimeout(() => {
            const move = () => {
              const clock = client.moveCursor();
              presenceSent.set(client.awarenessId * 2_097_152 + clock, {
                t: performance.now(),
                measured: measuringPresence,
              });
            };
            move();
            timers.push(setInterval(move, job.presenceIntervalMs));
          }, Math.random() * job.presenceIntervalMs);
          timers.push(start);
        }
      }
    }

    await sleep(job.warmupMs);
    const usage = new UsageMeter();
    usage.start();
    tracker.measuring = true;
    measuringPresence = true;
    report({ type: 'phase', phase: 'measuring' });
    const windowStart = performance.now();
    await sleep(job.durationMs);
    tracker.measuring = false;
    measuringPresence = false;
    for (const t of timers) clearTimeout(t);
    const windowSeconds = (performance.now() - windowStart) / 1000;
    const generator = usage.stop();
    report({ type: 'phase', phase: 'draining' });

    const drainDeadline = Date.now() + job.drainMs;
    while (tracker.outstanding > 0 && Date.now() < drainDeadline) await sleep(20);
    await Promise.all(all.map((c) => c.transport.settled(Math.max(0, drainDeadline - Date.now()))));

    let divergentRooms = 0;
    for (const clients of rooms) {
      const first = clients[0]!.textValue();
      if (clients.some((c) => c.textValue() !== first)) divergentRooms++;
    }
    let serverStateMatches: boolean | null = null;
    if (job.target === 'tandem') {
      serverStateMatches = true;
      for (const clients of rooms.slice(0, 20)) {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, await clients[0]!.transport.serverState!());
        if (doc.getText('content').toString() !== clients[0]!.textValue()) serverStateMatches = false;
        doc.destroy();
      }
    }
    const deliveriesExpected = tracker.expectedMeasured;
    return {
      kind: 'fanout',
      clients: all.length,
      windowSeconds: Math.round(windowSeconds * 100) / 100,
      editsSent: tracker.sentMeasured,
      editsPerSecond: Math.round(tracker.sentMeasured / windowSeconds),
      deliveriesExpected,
      delivered: tracker.deliveredMeasured,
      deliveriesPerSecond: Math.round(tracker.deliveredMeasured / windowSeconds),
      lost: deliveriesExpected - tracker.deliveredMeasured,
      duplicates: tracker.duplicates,
      latency: tracker.latency.summary(),
      presence:
        job.presenceIntervalMs === undefined
          ? null
          : {
              ...presenceLatency.summary(),
              messagesPerSecond: Math.round(presenceMessages / windowSeconds),
              bytesPerSecond: Math.round(presenceBytes / windowSeconds),
            },
      converged: divergentRooms === 0,
      divergentRooms,
      serverStateMatches,
      refusedEdits: all.reduce((n, c) => n + c.transport.stats.refused, 0),
      disconnects: all.reduce((n, c) => n + c.transport.stats.disconnects, 0),
      connectMs: connectMs.summary(),
      generator,
    };
  } finally {
    for (const c of all) c.transport.close();
  }
}
