import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import {
  advanceState,
  checkTextUpdate,
  integrateIntoState,
  isValidUpdate,
  mergeToState,
  mergeUpdatesBalanced,
  stateVectorOfState,
  textFromUpdates,
  TEXT_NAME,
  type StateVector,
} from './ydoc.js';

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
  it('accepts what a code editor sends: inserts and deletes of plain text', () => {
    const base = new Y.Doc();
    base.getText(TEXT_NAME).insert(0, 'hello world');
    expect(isValidUpdate(typed((t) => t.insert(0, 'x')))).toBe(true);
    expect(isValidUpdate(typed((t) => t.insert(5, ',\n'), base))).toBe(true);
    expect(isValidUpdate(typed((t) => t.delete(2, 3), base))).toBe(true);
    expect(isValidUpdate(Y.encodeStateAsUpdate(base))).toBe(true);
    expect(isValidUpdate(new Uint8Array([0, 0]))).toBe(true);
  });

  it('refuses embeds, formatting and nested types inside the text (issue 12 item 6)', () => {
    const base = new Y.Doc();
    base.getText(TEXT_NAME).insert(0, 'hello world');
    expect(checkTextUpdate(typed((t) => t.insertEmbed(1, { image: 'x.png' }), base))).toBe('not-text');
    expect(checkTextUpdate(typed((t) => t.insertEmbed(0, { huge: 'x'.repeat(1000) })))).toBe('not-text');
    expect(checkTextUpdate(typed((t) => t.insert(5, ',', { bold: true }), base))).toBe('not-text');
    expect(checkTextUpdate(typed((t) => t.format(0, 4, { italic: true }), base))).toBe('not-text');
    expect(checkTextUpdate(typed((t) => t.insertEmbed(0, new Y.Map())))).toBe('not-text');
    expect(checkTextUpdate(typed((t) => t.insertEmbed(0, new Y.Text('nested'))))).toBe('not-text');
    // Text typed into another root type (a Y.Array) would shift the lines collaborators see.
    expect(checkTextUpdate(typed((_t, d) => d.getArray('lines').insert(0, ['line 1'])))).toBe('not-text');
    expect(checkTextUpdate(typed((_t, d) => d.getXmlFragment('xml').insert(0, [new Y.XmlText('x')])))).toBe('not-text');
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
});

/** A document whose state vector is `state` (for encoding diffs against it). */
function stateDoc(state: Map<number, number>): Y.Doc {
  const doc = new Y.Doc();
  for (const [client, clock] of state) {
    const filler = new Y.Doc();
    filler.clientID = client;
    filler.getArray('filler').insert(
      0,
      Array.from({ length: clock }, () => 0),
    );
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(filler));
  }
  return doc;
}

describe('integrateIntoState', () => {
  /** An editor whose every keystroke is an update. */
  function editor(clientID: number, base?: Uint8Array) {
    const doc = new Y.Doc();
    doc.clientID = clientID;
    if (base !== undefined) Y.applyUpdate(doc, base);
    return {
      doc,
      type(index: number, text: string): Uint8Array {
        const before = Y.encodeStateVector(doc);
        doc.getText(TEXT_NAME).insert(index, text);
        return Y.encodeStateAsUpdate(doc, before);
      },
      remove(index: number, length: number): Uint8Array {
        const before = Y.encodeStateVector(doc);
        doc.getText(TEXT_NAME).delete(index, length);
        return Y.encodeStateAsUpdate(doc, before);
      },
    };
  }
  /** Whether `update` integrates into `state`; when it does, `state` moves past it. */
  const integrates = (state: StateVector, update: Uint8Array) => {
    const parsed = checkTextUpdate(update);
    if (typeof parsed === 'string') throw new Error(parsed);
    const { complete, advanced } = integrateIntoState(state, parsed);
    if (complete) advanceState(state, advanced);
    return complete;
  };

  it('accepts keystrokes in order and advances the state like a document would', () => {
    const a = editor(1);
    const state: StateVector = new Map();
    expect(integrates(state, a.type(0, 'he'))).toBe(true);
    expect(integrates(state, a.type(2, 'llo'))).toBe(true);
    expect(integrates(state, a.remove(1, 2))).toBe(true);
    expect(state).toEqual(Y.decodeStateVector(Y.encodeStateVector(a.doc)));
  });

  it('refuses an update whose origin, earlier items or deleted items the state lacks (issue 12 item 4)', () => {
    const a = editor(1);
    const first = a.type(0, 'abc');
    const second = a.type(3, 'def');
    // The second keystroke without the first: its own earlier items and its origin are missing.
    expect(integrates(new Map(), second)).toBe(false);
    // Another client typing after text the server never got.
    const b = editor(2, Y.encodeStateAsUpdate(a.doc));
    const bTyped = b.type(1, 'x');
    expect(integrates(new Map([[2, 0]]), bTyped)).toBe(false);
    expect(integrates(new Map([[1, 6]]), bTyped)).toBe(true);
    // A deletion of text the server does not have.
    expect(integrates(new Map([[1, 3]]), a.remove(3, 2))).toBe(false);
    expect(integrates(new Map([[1, 6]]), a.remove(0, 1))).toBe(true);
    expect(integrates(new Map(), first)).toBe(true);
  });

  it('accepts edits of several clients that depend on each other in one update, in any order', () => {
    const a = editor(5);
    const b = editor(9);
    const c = editor(3);
    const editors = [a, b, c];
    for (let i = 0; i < 60; i++) {
      const writer = editors[i % 3]!;
      const update = writer.type(Math.floor(writer.doc.getText(TEXT_NAME).length / 2), `w${i}`);
      for (const r of editors) if (r !== writer) Y.applyUpdate(r.doc, update);
    }
    const all = Y.encodeStateAsUpdate(a.doc);
    expect(integrates(new Map(), all)).toBe(true);
    // The same content minus one client's edits cannot integrate (the others typed next to them).
    const cClock = Y.getState(a.doc.store, 3);
    const withoutC = Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(stateDoc(new Map([[3, cClock]]))));
    expect(integrates(new Map(), withoutC)).toBe(false);
    expect(integrates(new Map([[3, cClock]]), withoutC)).toBe(true);
  });

  it('reads the state vector of a stored state without a document', () => {
    const a = editor(1);
    a.type(0, 'hello');
    expect(stateVectorOfState(Y.encodeStateAsUpdate(a.doc))).toEqual(new Map([[1, 5]]));
  });
});

describe('mergeUpdatesBalanced', () => {
  it('reads many small updates in O(n log n), and gives the same text as applying them one by one', () => {
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const text = doc.getText(TEXT_NAME);
    for (let i = 0; i < 4000; i++) text.insert(i % 7 === 0 ? 0 : text.length, 'ab');
    const started = performance.now();
    const read = textFromUpdates(updates);
    const ms = performance.now() - started;
    expect(read).toBe(text.toString());
    expect(textFromUpdates([mergeUpdatesBalanced(updates)])).toBe(read);
    // One flat Y.mergeUpdates of these takes seconds; balanced, well under one.
    expect(ms).toBeLessThan(1000);
  });
});

describe('mergeToState', () => {
  it('gives what one document holding everything gives: a stored state, then updates in any order', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    a.getText(TEXT_NAME).insert(0, 'stored text\n'.repeat(50));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const state = Y.encodeStateAsUpdate(a);
    const later: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => later.push(u));
    b.on('update', (u: Uint8Array) => later.push(u));
    for (let i = 0; i < 30; i++) {
      a.getText(TEXT_NAME).insert(i * 3, 'a');
      b.getText(TEXT_NAME).delete(100 + i, 1);
      b.getText(TEXT_NAME).insert(200, 'b');
    }
    const whole = new Y.Doc();
    for (const u of [state, ...later]) Y.applyUpdate(whole, u);
    const expected = whole.getText(TEXT_NAME).toString();
    // Updates that build on each other, listed after what they build on and before it.
    for (const order of [later, [...later].reverse()]) {
      const merged = mergeToState([state, ...order]);
      expect(merged.text).toBe(expected);
      const check = new Y.Doc();
      Y.applyUpdate(check, merged.state);
      expect(check.getText(TEXT_NAME).toString()).toBe(expected);
      expect(Y.encodeStateVector(check)).toEqual(Y.encodeStateVector(whole));
    }
    expect(mergeToState([]).text).toBe('');
    expect(mergeToState([state]).text).toBe('stored text\n'.repeat(50));
  });
});
