/**
 * Measures how long one edit takes to reach another client connected to another instance:
 * starts two built server processes on 127.0.0.1 (the machine's Redis and a temp SQLite file),
 * one writer client on the first and one reader on the second; the writer inserts one character
 * every --interval ms; the reader matches each delivered update to its send time by Yjs item id.
 *
 *   npm run build && node --conditions=source --import tsx packages/server/scripts/edit-latency.ts --edits 2000
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import { TandemClient, TandemRest } from '@tandem/client-sdk';
import { startServerProcess } from '../test/support/server-process.js';
import { adminToken } from '../test/support/test-app.js';

const { values } = parseArgs({
  options: { edits: { type: 'string', default: '2000' }, interval: { type: 'string', default: '5' } },
});
const edits = Number(values.edits);
const intervalMs = Number(values.interval);

const dir = mkdtempSync(join(tmpdir(), 'tandem-latency-'));
const prefix = `latency:${randomUUID().slice(0, 8)}`;
const env = { SYNC_INTERVAL_MS: '2000', CACHE_MEMBER_TTL_MS: '30000', CACHE_HEARTBEAT_MS: '10000' };
const servers = await Promise.all(
  [0, 1].map(() => startServerProcess({ prefix, databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`, entry: 'dist', env })),
);
try {
  const token = await adminToken();
  const { shard } = await new TandemRest({ url: servers[0]!.url, token }).createShard({ templateId: 'static', name: 'latency' });
  const writer = new TandemClient({ url: servers[0]!.url, token });
  const reader = new TandemClient({ url: servers[1]!.url, token });
  const ws = await writer.join(shard.id);
  const rs = await reader.join(shard.id);
  const text = await ws.openFile('index.html');
  await rs.openFile('index.html');
  const doc = text.doc!;
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  reader.socket.on('file:edited', (e) => {
    const now = performance.now();
    const { structs } = Y.decodeUpdate(e.update instanceof Uint8Array ? e.update : new Uint8Array(e.update));
    for (const s of structs) {
      if (s.id.client !== doc.clientID) continue;
      const t = sentAt.get(s.id.clock);
      if (t !== undefined) {
        latencies.push(now - t);
        sentAt.delete(s.id.clock);
      }
    }
  });
  for (let i = 0; i < edits; i++) {
    const clock = Y.getState(doc.store, doc.clientID);
    sentAt.set(clock, performance.now());
    text.insert(Math.floor(Math.random() * (text.length + 1)), 'x');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const deadline = Date.now() + 10_000;
  while (latencies.length < edits && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
  console.log(
    JSON.stringify({
      scenario: 'edit-latency-cross-instance',
      edits,
      delivered: latencies.length,
      lost: edits - latencies.length,
      intervalMs,
      p50Ms: Number(q(0.5)),
      p90Ms: Number(q(0.9)),
      p99Ms: Number(q(0.99)),
      maxMs: Number(latencies[latencies.length - 1]!.toFixed(2)),
    }),
  );
  await writer.close();
  await reader.close();
} finally {
  await Promise.all(servers.map((s) => s.kill('SIGTERM')));
  rmSync(dir, { recursive: true, force: true });
}
