import * as Y from 'yjs';
import type { Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { TEXT_NAME } from '@tandem/client-sdk';
import type { IShardRepository } from '../src/persistence/index.js';
import { openShardsKey, parseShardKey, shardKeys } from '../src/redis/index.js';
import { tokensIn, type LoadClient } from './load.js';

/** What the database holds for one file: its text column and the text of its stored Yjs state. */
export type StoredText = { content: string; stateText: string } | null;

/** Reads the load file of a shard straight from the database (never through the cut-off proxy). */
export async function readStoredText(
  repository: IShardRepository,
  shardId: ShardId,
  path: string,
): Promise<StoredText> {
  const shard = await repository.findById(shardId);
  const file = shard?.files.find((f) => f.path === path);
  if (file === undefined) return null;
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, file.ydocState);
    return { content: file.content, stateText: doc.getText(TEXT_NAME).toString() };
  } finally {
    doc.destroy();
  }
}

/** How a shard sits in Redis. `half` is the state that must never exist at rest. */
export type CacheState =
  | { kind: 'absent' }
  | { kind: 'loaded'; inOpenSet: boolean }
  /** Only a membership or a lock key: a join or populate in progress. */
  | { kind: 'transient'; parts: string[] }
  | { kind: 'half'; parts: string[]; problem: string };

/**
 * Classifies a shard's keys: either everything (meta with the loaded marker, the tree, the clock,
 * a doc list for every file in the tree) or nothing.
 */
export async function inspectCache(redis: Redis, prefix: string, shardId: ShardId): Promise<CacheState> {
  const k = shardKeys(prefix, shardId);
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:shard:{${shardId}}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return { kind: 'absent' };
  const parts = keys.map((key) => {
    const { part } = parseShardKey(prefix, key);
    return typeof part === 'string' ? part : `doc:${part.doc}`;
  });
  const loaded = (await redis.hget(k.meta, 'loaded')) === '1';
  if (!loaded) {
    if (parts.every((p) => p === 'members' || p === 'lock')) return { kind: 'transient', parts };
    return { kind: 'half', parts: summarize(parts), problem: 'keys without the loaded marker' };
  }
  const tree = await redis.hkeys(k.tree);
  const missingDocs = tree.filter((id) => !parts.includes(`doc:${id}`));
  if (missingDocs.length > 0)
    return { kind: 'half', parts: summarize(parts), problem: `no update list for ${missingDocs.length} file(s)` };
  if (!parts.includes('seq')) return { kind: 'half', parts: summarize(parts), problem: 'no shard clock' };
  const inOpenSet = (await redis.zscore(openShardsKey(prefix), shardId)) !== null;
  return { kind: 'loaded', inOpenSet };
}

function summarize(parts: string[]): string[] {
  const docs = parts.filter((p) => p.startsWith('doc:')).length;
  return [...parts.filter((p) => !p.startsWith('doc:')), ...(docs > 0 ? [`doc×${docs}`] : [])];
}

/** Per shard: whether every client has the same text, and the acknowledged tokens some client lacks. */
export type ClientCheck = {
  converged: boolean;
  /** The text all clients agree on (the first client's when they do not). */
  text: string;
  missing: Set<string>;
};

export function checkClients(clients: readonly LoadClient[], acknowledged: ReadonlySet<string>): ClientCheck {
  const texts = clients.map((c) => c.text.toString());
  const first = texts[0] ?? '';
  const converged = texts.every((t) => t === first);
  const missing = new Set<string>();
  for (const text of converged ? [first] : texts) {
    const present = tokensIn(text);
    for (const token of acknowledged) if (!present.has(token)) missing.add(token);
  }
  return { converged, text: first, missing };
}

/** Whether every client of every shard has the same text. */
export function allConverged(byShard: ReadonlyMap<ShardId, readonly LoadClient[]>): boolean {
  for (const clients of byShard.values()) {
    const first = clients[0]?.text.toString();
    if (!clients.every((c) => c.text.toString() === first)) return false;
  }
  return true;
}
