import { io, type Socket } from 'socket.io-client';
import { Samples } from '../stats.js';
import { YProtocolTransport } from './transports.js';
import { UsageMeter } from './usage-meter.js';
import { pool, userToken } from './run-fanout.js';
import type { FromGenerator, IdleCheckpoint, IdleJob, IdleResult } from './jobs.js';

type Idle = { close(): void };

/**
 * Opens connections that only join (each its own room) and then sit idle, pausing at each
 * checkpoint so the orchestrator can read the servers' memory. Kept cheap on the generator side:
 * raw socket.io-client sockets for Tandem, bare websockets (no Y.Doc) for the baselines.
 */
export async function runIdle(
  job: IdleJob,
  report: (m: FromGenerator) => void,
  proceed: () => Promise<void>,
): Promise<IdleResult> {
  const usage = new UsageMeter();
  usage.start();
  const open: Idle[] = [];
  const checkpoints: IdleCheckpoint[] = [];
  let disconnects = 0;
  let done = 0;
  let failed = 0;
  const started = performance.now();
  try {
    let from = 0;
    for (const target of job.checkpoints) {
      const connectMs = new Samples();
      const rooms = job.rooms
        .slice(from, target)
        .map((room, i) => ({ room, n: from + i, url: job.urls[(from + i) % job.urls.length]! }));
      from = target;
      const stepStarted = performance.now();
      await pool(rooms, job.connectConcurrency, async ({ room, url, n }) => {
        const t = performance.now();
        try {
          open.push(await connect(job, url, room, n, () => disconnects++));
          connectMs.add(performance.now() - t);
        } catch {
          // Counted: a refused or timed-out connection is a result, not a crash.
          failed++;
        }
        done++;
      });
      const checkpoint = {
        connected: done - failed,
        failed,
        connectMs: connectMs.summary(),
        elapsedMs: Math.round(performance.now() - started),
        stepMs: Math.round(performance.now() - stepStarted),
      };
      checkpoints.push(checkpoint);
      report({ type: 'checkpoint', checkpoint });
      await proceed();
    }
    return { kind: 'idle', checkpoints, generator: usage.stop(), disconnects };
  } finally {
    for (const c of open) c.close();
  }
}

async function connect(job: IdleJob, url: string, room: string, n: number, onDisconnect: () => void): Promise<Idle> {
  if (job.target !== 'tandem') {
    const transport = new YProtocolTransport(url, room, job.target === 'hocuspocus');
    await transport.open();
    return { close: () => transport.close() };
  }
  const socket: Socket = io(url, {
    transports: ['websocket'],
    auth: { token: userToken(job.secret, n) },
    reconnection: false,
    forceNew: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timeout')), 30_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const ack = (await socket.timeout(30_000).emitWithAck('shard:join', { shardId: room })) as { ok: boolean };
    if (!ack.ok) throw new Error('join refused');
  } catch (error) {
    socket.disconnect();
    throw error;
  }
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') onDisconnect();
  });
  return { close: () => socket.disconnect() };
}
