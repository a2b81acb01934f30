import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { UpdateIdReader } from './update-ids.js';

function ids(update: Uint8Array): Array<[number, number, number]> | null {
  const out: Array<[number, number, number]> = [];
  return new UpdateIdReader().read(update, (client, clock, length) => out.push([client, clock, length])) ? out : null;
}

function decoded(update: Uint8Array): Array<[number, number, number]> {
  return Y.decodeUpdate(update)
    .structs.filter((s) => s.constructor.name !== 'Skip')
    .map((s) => [s.id.client, s.id.clock, s.length]);
}

describe('UpdateIdReader', () => {
  it("reads the ids of the generator's one-character inserts as Yjs decodes them", () => {
    const a = new Y.Doc();
    a.clientID = 0x4000_0001;
    const b = new Y.Doc();
    b.clientID = 0x4000_0002;
    const updates: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => updates.push(u));
    b.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== 'remote') updates.push(u);
    });
    a.getText('content').insert(0, 'hello');
    for (let i = 0; i < 50; i++) {
      const doc = i % 2 === 0 ? a : b;
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a), 'remote');
      const text = doc.getText('content');
      text.insert(Math.floor(Math.random() * (text.length + 1)), 'x');
    }
    for (const u of updates) expect(ids(u)).toEqual(decoded(u));
  });

  it('counts UTF-16 units of multi-byte strings and reads merged updates and deletions', () => {
    const doc = new Y.Doc();
    doc.clientID = 7;
    const text = doc.getText('content');
    text.insert(0, 'héllo 🎉 wörld');
    text.delete(2, 3);
    text.insert(4, 'ab');
    const state = Y.encodeStateAsUpdate(doc);
    expect(ids(state)).toEqual(decoded(state));
    const merged = Y.mergeUpdates([state, Y.encodeStateAsUpdate(new Y.Doc())]);
    expect(ids(merged)).toEqual(decoded(merged));
  });

  it('declines content it does not size, visiting nothing', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    const seen: number[] = [];
    expect(new UpdateIdReader().read(Y.encodeStateAsUpdate(doc), (c) => seen.push(c))).toBe(false);
    expect(seen).toEqual([]);
  });
});
