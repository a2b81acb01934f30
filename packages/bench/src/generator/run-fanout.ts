import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import type { ShardId } from '@tandem/protocol';
import { BenchClient } from './bench-client.js';
import { sharedNow } from './clock.js';
import { Column, DeliveryLog, itemKey } from './delivery-log.js';
import { TandemTransport, YProtocolTransport, type Transport } from './transports.js';
import { UsageMeter } from './usage-meter.js';
import { signToken } from '../targets/jwt.js';
import type { FanoutJob, FanoutPart, FanoutPartResult, FanoutStep, GeneratorUsage } from './jobs.js';

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

/**
 * Which generator process runs client `c` of room `r`: whole rooms round-robin when there are at
 * least as many rooms as processes, else each room's clients spread over the processes.
 */
export function partOf(job: Pick<FanoutJob, 'rooms' | 'clientsPerRoom'>, r: number, c: number, count: number): number {
  return job.rooms.length >= count ? r % count : (r * job.clientsPerRoom + c) % count;
}

type RoomClients = { room: number; clients: Array<{ c: number; client: BenchClient }> };

/**
 * One generator process's share of a fan-out job: R rooms × C clients over all processes, each
 * typist inserting a character at a random position every T ms. The orchestrator runs the steps
 * (connect, type, measure, stop, drain, finish) on every process in turn; latency is matched by
 * item id across processes afterwards (`mergeDeliveries`), on the shared clock.
 */
export class FanoutRun {
  private readonly log: DeliveryLog;
  private readonly rooms: RoomClients[] = [];
  private readonly all: BenchClient[] = [];
  private readonly typists: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly connectMs: number[] = [];
  private readonly presenceSentKeys = new Column();
  private readonly presenceSentTimes = new Column();
  private readonly presenceSentMeasured = new Column();
  private readonly presenceReceivedKeys = new Column();
  private readonly presenceReceivedTimes = new Column();
  private presenceMessages = 0;
  private presenceBytes = 0;
  private usage: UsageMeter | undefined;

  constructor(
    private readonly job: FanoutJob,
    part: FanoutPart,
  ) {
    const C = job.clientsPerRoom;
    this.typists = Math.min(C, job.typistsPerRoom ?? C);
    this.log = new DeliveryLog(job.rooms.length * C);
    job.rooms.forEach((room, r) => {
      const mine: RoomClients = { room: r, clients: [] };
      for (let c = 0; c < C; c++) {
        if (partOf(job, r, c, part.count) !== part.index) continue;
        const k = r * C + c;
        const url = job.urls[k % job.urls.length]!;
        const client = new BenchClient(
          makeTransport(job, url, room.room, k, room.path),
          this.log,
          k,
          C - 1,
          (u, self) => this.onAwareness(u, self),
        );
        mine.clients.push({ c, client });
        this.all.push(client);
      }
      if (mine.clients.length > 0) this.rooms.push(mine);
    });
  }

  async step(step: FanoutStep): Promise<unknown> {
    switch (step) {
      case 'connect-first':
        return this.connectFirst();
      case 'connect-rest':
        return this.connectRest();
      case 'type':
        return this.startTyping();
      case 'measure':
        this.usage = new UsageMeter();
        this.usage.start();
        this.log.measuring = true;
        return null;
      case 'stop':
        return this.stop();
      case 'progress':
        return { expected: this.log.expectedTotal, received: this.log.receivedTotal };
      case 'finish':
        return this.finish();
    }
  }

  private onAwareness(update: Uint8Array, self: BenchClient): void {
    const now = sharedNow();
    if (this.log.measuring) {
      this.presenceMessages++;
      this.presenceBytes += update.byteLength;
    }
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const id = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      decoding.readVarString(decoder);
      if (id === self.awarenessId) continue;
      this.presenceReceivedKeys.push(itemKey(id, clock));
      this.presenceReceivedTimes.push(now);
    }
  }

  private async open(client: BenchClient): Promise<void> {
    const t = performance.now();
    await client.open();
    this.connectMs.push(performance.now() - t);
  }

  /** The first client of each room (and its seed), before anyone else joins it. */
  private async connectFirst(): Promise<null> {
    const firsts = this.rooms.flatMap((r) => r.clients.filter((x) => x.c === 0).map((x) => x.client));
    await pool(firsts, this.job.connectConcurrency, async (first) => {
      await this.open(first);
      if (this.job.seedText !== undefined) {
        first.insertUntracked(this.job.seedText);
        await first.transport.settled(5000);
      }
    });
    return null;
  }

  private async connectRest(): Promise<null> {
    const rest = this.rooms.flatMap((r) => r.clients.filter((x) => x.c !== 0).map((x) => x.client));
    await pool(rest, this.job.connectConcurrency, (client) => this.open(client));
    return null;
  }

  private startTyping(): null {
    const { editIntervalMs, presenceIntervalMs } = this.job;
    for (const { clients } of this.rooms) {
      for (const { c, client } of clients) {
        if (c < this.typists) {
          const start = setTimeout(() => {
            client.edit();
            this.timers.push(setInterval(() => client.edit(), editIntervalMs));
          }, Math.random() * editIntervalMs);
          this.timers.push(start);
        }
        if (presenceIntervalMs !== undefined) {
          const start = setTimeout(() => {
            const move = () => {
              const clock = client.moveCursor();
              this.presenceSentKeys.push(itemKey(client.awarenessId, clock));
              this.presenceSentTimes.push(sharedNow());
              this.presenceSentMeasured.push(this.log.measuring ? 1 : 0);
            };
            move();
            this.timers.push(setInterval(move, presenceIntervalMs));
          }, Math.random() * presenceIntervalMs);
          this.timers.push(start);
        }
      }
    }
    return null;
  }

  private stop(): GeneratorUsage {
    this.log.measuring = false;
    for (const t of this.timers) clearTimeout(t);
    return this.usage!.stop();
  }

  private async finish(): Promise<FanoutPartResult> {
    const deadline = Date.now() + 5000;
    await Promise.all(this.all.map((c) => c.transport.settled(Math.max(0, deadline - Date.now()))));
    const rooms = this.rooms.map(({ room, clients }) => ({
      room,
      texts: [...new Set(clients.map(({ client }) => client.textValue()))],
    }));
    let serverStateMatches: boolean | null = null;
    if (this.job.target === 'tandem') {
      // The first 20 rooms' server state, checked by the process that has the room's first client.
      for (const { room, clients } of this.rooms) {
        const first = clients.find((x) => x.c === 0);
        if (room >= 20 || first === undefined) continue;
        const doc = new Y.Doc();
        Y.applyUpdate(doc, await first.client.transport.serverState!());
        const same = doc.getText('content').toString() === first.client.textValue();
        serverStateMatches = (serverStateMatches ?? true) && same;
        doc.destroy();
      }
    }
    return {
      clients: this.all.length,
      records: this.log.records(),
      presence: {
        sent: {
          keys: this.presenceSentKeys.values(),
          times: this.presenceSentTimes.values(),
          measured: this.presenceSentMeasured.values(),
        },
        received: { keys: this.presenceReceivedKeys.values(), times: this.presenceReceivedTimes.values() },
        messages: this.presenceMessages,
        bytes: this.presenceBytes,
      },
      rooms,
      serverStateMatches,
      refusedEdits: this.all.reduce((n, c) => n + c.transport.stats.refused, 0),
      disconnects: this.all.reduce((n, c) => n + c.transport.stats.disconnects, 0),
      connectMs: this.connectMs,
    };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.all) c.transport.close();
  }
}
