import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { isValidUpdate, TEXT_NAME } from './ydoc.js';

function typed(edit: (text: Y.Text, doc: Y.Doc) => void, base?: Y.Doc): Uint8Array {
  const doc = new Y.Doc();
  if (base !== undefined) Y.applyUpdate(doc, Y.encodeStateAsUpdate(base));
  const before = Y.encodeStateVector(doc);
  edit(doc.getText(TEXT_NAME), doc);
  return Y.encodeStateAsUpdate(doc, before);
}

/** One string item of `client` at `clock` whose left origin is (client, originClock). */
function itemWithOwnOrigin(client: number, clock: number, originClock: number): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1); // clients
  encoding.writeVarUint(e, 1); // structs of that client
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, clock);
  encoding.writeUint8(e, 0x80 | 4); // has origin, ContentString
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, originClock);
  encoding.writeVarString(e, 'x');
  encoding.writeVarUint(e, 0); // empty delete set
  return encoding.toUint8Array(e);
}

describe('isValidUpdate', () => {
  it('accepts what editors send: inserts, deletes, formatting, embeds', () => {
    const base = new Y.Doc();
    base.getText(TEXT_NAME).insert(0, 'hello world');
    expect(isValidUpdate(typed((t) => t.insert(0, 'x')))).toBe(true);
    expect(isValidUpdate(typed((t) => t.insert(5, ',', { bold: true }), base))).toBe(true);
    expect(isValidUpdate(typed((t) => t.delete(2, 3), base))).toBe(true);
    expect(isValidUpdate(typed((t) => t.insertEmbed(1, { image: 'x.png' }), base))).toBe(true);
    expect(isValidUpdate(typed((t) => t.format(0, 4, { italic: true }), base))).toBe(true);
    expect(isValidUpdate(Y.encodeStateAsUpdate(base))).toBe(true);
    expect(isValidUpdate(new Uint8Array([0, 0]))).toBe(true);
  });

  it('accepts merged and garbage-collected states (checked by a full apply)', () => {
    const doc = new Y.Doc({ gc: true });
    const text = doc.getText(TEXT_NAME);
    text.insert(0, 'abcdef');
    text.delete(1, 3);
    expect(isValidUpdate(Y.encodeStateAsUpdate(doc))).toBe(true);
    expect(isValidUpdate(Y.mergeUpdates([typed((t) => t.insert(0, 'a')), typed((t) => t.insert(0, 'b'))]))).toBe(true);
  });

  it('refuses bytes that are not an update', () => {
    expect(isValidUpdate(new Uint8Array([1, 2, 3, 250, 7]))).toBe(false);
    expect(isValidUpdate(new Uint8Array([]))).toBe(false);
  });

  it('refuses other root types and map entries on the text', () => {
    expect(isValidUpdate(typed((_t, d) => d.getMap('evil').set('a', 1)))).toBe(false);
    expect(isValidUpdate(typed((_t, d) => d.getText('other').insert(0, 'x')))).toBe(false);
    expect(isValidUpdate(typed((t) => t.setAttribute('lang', 'js')))).toBe(false);
  });

  it('refuses an item that points forward to its own client (it would throw when applied)', () => {
    expect(isValidUpdate(itemWithOwnOrigin(7, 0, 5))).toBe(false);
    expect(isValidUpdate(itemWithOwnOrigin(7, 3, 3))).toBe(false);
    // Backwards is how typing looks: valid even though clocks 0–1 are not in this update.
    expect(isValidUpdate(itemWithOwnOrigin(7, 2, 1))).toBe(true);
  });

  it('accepts nested types inside the text (full apply)', () => {
    expect(isValidUpdate(typed((t) => t.insertEmbed(0, new Y.Map())))).toBe(true);
  });
});
