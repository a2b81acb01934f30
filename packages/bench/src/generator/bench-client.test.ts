import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { BenchClient } from './bench-client.js';
import { DeliveryLog } from './delivery-log.js';
import type { Transport } from './transports.js';

/** Clients of one room joined by an in-memory relay (every update to every other client). */
function room(n: number): { clients: BenchClient[]; log: DeliveryLog } {
  const log = new DeliveryLog(n);
  const transports: Transport[] = [];
  for (let i = 0; i < n; i++) {
    transports.push({
      open: () => Promise.resolve(new Uint8Array([0, 0])),
      send: (update) => transports.forEach((t, j) => j !== i && t.onUpdate(update)),
      sendAwareness: () => undefined,
      onUpdate: () => undefined,
      onAwareness: () => undefined,
      settled: () => Promise.resolve(),
      close: () => undefined,
      stats: { refused: 0, disconnects: 0, acked: 0 },
    });
  }
  return { clients: transports.map((t, i) => new BenchClient(t, log, i, n - 1)), log };
}

describe('BenchClient', () => {
  it('types one character per edit at random positions; every client converges on the same text', () => {
    const { clients, log } = room(4);
    clients[0]!.insertUntracked('seed text');
    for (let e = 0; e < 2000; e++) clients[Math.floor(Math.random() * 4)]!.edit();
    const text = clients[0]!.textValue();
    expect(text).toHaveLength('seed text'.length + 2000);
    for (const c of clients) expect(c.textValue()).toBe(text);
    // Each edit reached the three others, and the seed (another client id) is not tracked.
    expect(log.expectedTotal).toBe(2000 * 3);
    expect(log.receivedTotal).toBe(2000 * 3);
    // Positions fall inside items too (the seed is one item of 9 characters): it was split.
    expect(text).not.toContain('seed text');
  });

  it("sends the update Yjs's own insert would: one item, its origin and right origin, no parent", () => {
    const { clients } = room(2);
    clients[0]!.insertUntracked('abc');
    const sent: Uint8Array[] = [];
    const transport = clients[1]!.transport;
    const send = transport.send.bind(transport);
    transport.send = (u) => {
      sent.push(u);
      send(u);
    };
    clients[1]!.edit();
    const { structs, ds } = Y.decodeUpdate(sent[0]!);
    expect(structs).toHaveLength(1);
    const item = structs[0] as Y.Item;
    expect(item.length).toBe(1);
    expect(item.origin).not.toBeNull();
    expect(ds.clients.size).toBe(0);
  });
});
