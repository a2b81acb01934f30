import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Redis } from 'ioredis';
import type { FileId, ShardId } from '@tandem/protocol';
import { checkTextUpdate, FileStateVectors, type TextUpdate } from '../../../src/shard-cache/index.js';
import { createStore, type Store } from './store-harness.js';

/**
 * FileStateVectors, the dependency check's memory of what Redis holds of each file: a lower bound
 * valid for one load of a shard. Past its trust window an entry costs one read of the load id, not
 * a read and decode of every update appended since (docs/benchmarks.md, change 30); a shard that
 * was loaded again is seen by that read.
 */
describe('file state vectors', () => {
  let store: Store;
  /** Redis commands the vectors sent, by name (the real connection, counted). */
  const sent = new Map<string, number>();
  let counted: Redis;
  beforeAll(async () => {
    store = await createStore();
    const redis = store.redis as Redis;
    counted = new Proxy(redis, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          sent.set(String(name), (sent.get(String(name)) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  });
  afterAll(async () => {
    await store.close();
  });

  /** A collaborator's document of the file as Redis holds it now. */
  async function docOf(shardId: ShardId, fileId: FileId): Promise<Y.Doc> {
    const doc = new Y.Doc();
    for (const update of await store.cache.files.updates(shardId, fileId)) Y.applyUpdate(doc, update);
    return doc;
  }

  /** Types `text` at the end of `doc`: the update, raw and decoded. */
  function type(doc: Y.Doc, text: string): { raw: Uint8Array; parsed: TextUpdate } {
    const before = Y.encodeStateVector(doc);
    doc.getText('content').insert(doc.getText('content').length, text);
    const raw = Y.encodeStateAsUpdate(doc, before);
    const parsed = checkTextUpdate(raw);
    if (typeof parsed === 'string') throw new Error(parsed);
    return { raw, parsed };
  }

  /** What the edit gate does: check, store, note. */
  async function admit(vectors: FileStateVectors, shardId: ShardId, fileId: FileId, update: ReturnType<typeof type>) {
    const checked = await vectors.check(shardId, fileId, update.parsed);
    if (checked.found !== 'ok') return checked.found;
    await store.cache.files.appendEdit(shardId, fileId, update.raw);
    vectors.noteStored(shardId, fileId, checked.advanced);
    return 'ok';
  }

  it('past its trust window, an entry reads the load id only, not the updates stored since', async () => {
    const shardId = await store.open({ 'a.txt': 'hello' });
    const fileId = await store.idOf(shardId, 'a.txt');
    const doc = await docOf(shardId, fileId);
    const vectors = new FileStateVectors({ redis: counted, keyPrefix: store.prefix, freshMs: 0 });
    sent.clear();
    for (let i = 0; i < 20; i++) expect(await admit(vectors, shardId, fileId, type(doc, String(i % 10)))).toBe('ok');
    // The first check read the file (one MULTI); each later one only asked whether the load is the same.
    expect(Object.fromEntries(sent)).toEqual({ multi: 1, hget: 19 });
    // Within the window, nothing is read at all.
    const trusting = new FileStateVectors({ redis: counted, keyPrefix: store.prefix });
    sent.clear();
    for (let i = 0; i < 5; i++) expect(await admit(trusting, shardId, fileId, type(doc, '!'))).toBe('ok');
    expect(Object.fromEntries(sent)).toEqual({ multi: 1 });
  });

  it('a shard loaded again is seen: an edit on what Redis lost is refused, not stored on a gap', async () => {
    const shardId = await store.open({ 'b.txt': 'base' });
    const fileId = await store.idOf(shardId, 'b.txt');
    const doc = await docOf(shardId, fileId);
    const vectors = new FileStateVectors({ redis: counted, keyPrefix: store.prefix, freshMs: 0 });
    expect(await admit(vectors, shardId, fileId, type(doc, ' one'))).toBe('ok');
    // Redis loses the shard before a sync: the database still has "base", and a load reads that.
    await store.lose(shardId);
    await store.cache.loader.ensureLoaded(shardId);
    // This keystroke builds on " one", which the new load lacks: the old bound would take it.
    expect(await admit(vectors, shardId, fileId, type(doc, ' two'))).toBe('missing');
    expect((await docOf(shardId, fileId)).getText('content').toString()).toBe('base');
  });
});
