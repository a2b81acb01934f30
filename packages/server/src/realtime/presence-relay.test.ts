import * as encoding from 'lib0/encoding';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Doc } from 'yjs';
import { Awareness, applyAwarenessUpdate } from 'y-protocols/awareness';
import type { ShardId } from '@tandem/protocol';
import { PresenceRelay, decodeAwarenessUpdate } from './presence-relay.js';

const S1 = 'shard-1' as ShardId;
const S2 = 'shard-2' as ShardId;
const TICK_MS = 50;

/** A y-protocols awareness update: clientId → [clock, state] (state undefined = removed). */
function update(entries: Array<[clientId: number, clock: number, state: unknown]>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const [clientId, clock, state] of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, JSON.stringify(state ?? null));
  }
  return encoding.toUint8Array(encoder);
}

/** The emitted messages, decoded: shardId → clientId → { clock, state }. */
function decoded(emitted: Array<[ShardId, Uint8Array]>) {
  return emitted.map(([shardId, bytes]) => {
    const entries = decodeAwarenessUpdate(bytes);
    if (entries === null) throw new Error('the relay emitted a malformed update');
    return [
      shardId,
      Object.fromEntries(
        [...entries].map(([id, e]) => [id, { clock: e.clock, state: JSON.parse(e.state) as unknown }]),
      ),
    ] as const;
  });
}

describe('PresenceRelay', () => {
  let emitted: Array<[ShardId, Uint8Array]>;
  let relay: PresenceRelay;

  beforeEach(() => {
    vi.useFakeTimers();
    emitted = [];
    relay = new PresenceRelay((shardId, bytes) => emitted.push([shardId, bytes]), TICK_MS);
  });

  afterEach(() => {
    relay.close();
    vi.useRealTimers();
  });

  it('coalesces a tick of updates into one message per shard with the newest state of each client', () => {
    expect(relay.push(S1, 'a', update([[1, 1, { cursor: 1 }]]))).toBe('ok');
    expect(relay.push(S1, 'a', update([[1, 2, { cursor: 2 }]]))).toBe('ok');
    expect(relay.push(S1, 'b', update([[2, 1, { cursor: 9 }]]))).toBe('ok');
    expect(relay.push(S2, 'c', update([[3, 5, { cursor: 0 }]]))).toBe('ok');
    vi.advanceTimersByTime(TICK_MS - 1);
    expect(emitted).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(decoded(emitted)).toEqual([
      [S1, { 1: { clock: 2, state: { cursor: 2 } }, 2: { clock: 1, state: { cursor: 9 } } }],
      [S2, { 3: { clock: 5, state: { cursor: 0 } } }],
    ]);
  });

  it('keeps the higher clock when an older update arrives later in the same tick', () => {
    relay.push(S1, 'a', update([[1, 7, { v: 'new' }]]));
    relay.push(S1, 'a', update([[1, 6, { v: 'old' }]]));
    vi.advanceTimersByTime(TICK_MS);
    expect(decoded(emitted)).toEqual([[S1, { 1: { clock: 7, state: { v: 'new' } } }]]);
  });

  it('sends nothing when nothing changed, and a new tick after the next update', () => {
    relay.push(S1, 'a', update([[1, 1, { n: 1 }]]));
    vi.advanceTimersByTime(TICK_MS * 10);
    expect(emitted).toHaveLength(1);
    relay.push(S1, 'a', update([[1, 2, { n: 2 }]]));
    vi.advanceTimersByTime(TICK_MS);
    expect(decoded(emitted)[1]).toEqual([S1, { 1: { clock: 2, state: { n: 2 } } }]);
  });

  it('a client id belongs to the first socket that used it: another socket may not move or remove it', () => {
    relay.push(S1, 'a', update([[1, 1, { name: 'Ann' }]]));
    expect(relay.push(S1, 'b', update([[1, 2, { name: 'Mallory' }]]))).toBe('not-yours');
    expect(relay.push(S1, 'b', update([[1, 2, null]]))).toBe('not-yours');
    // One foreign entry refuses the whole update, including the sender's own entries.
    expect(
      relay.push(
        S1,
        'b',
        update([
          [2, 1, { name: 'Bob' }],
          [1, 3, {}],
        ]),
      ),
    ).toBe('not-yours');
    vi.advanceTimersByTime(TICK_MS);
    expect(decoded(emitted)).toEqual([[S1, { 1: { clock: 1, state: { name: 'Ann' } } }]]);
  });

  it('ownership is per shard', () => {
    relay.push(S1, 'a', update([[1, 1, {}]]));
    expect(relay.push(S2, 'b', update([[1, 1, {}]]))).toBe('ok');
  });

  it('a client id its owner removed (state null) may be used by another socket', () => {
    relay.push(S1, 'a', update([[1, 1, { name: 'Ann' }]]));
    expect(relay.push(S1, 'a', update([[1, 2, null]]))).toBe('ok');
    expect(relay.push(S1, 'b', update([[1, 3, { name: 'Bob' }]]))).toBe('ok');
  });

  it('removeSocket announces only that socket’s clients as gone, with the next clock, and frees their ids', () => {
    relay.push(
      S1,
      'a',
      update([
        [1, 4, { name: 'Ann' }],
        [11, 2, { name: 'Ann, 2nd tab' }],
      ]),
    );
    relay.push(S1, 'b', update([[2, 9, { name: 'Bob' }]]));
    vi.advanceTimersByTime(TICK_MS);
    emitted.length = 0;

    relay.removeSocket(S1, 'a');
    vi.advanceTimersByTime(TICK_MS);
    expect(decoded(emitted)).toEqual([[S1, { 1: { clock: 5, state: null }, 11: { clock: 3, state: null } }]]);
    expect(relay.push(S1, 'c', update([[1, 6, {}]]))).toBe('ok');
    expect(relay.push(S1, 'c', update([[2, 10, {}]]))).toBe('not-yours');
  });

  it('removeSocket of a socket with no presence, or of an unknown shard, sends nothing', () => {
    relay.push(S1, 'a', update([[1, 1, {}]]));
    vi.advanceTimersByTime(TICK_MS);
    emitted.length = 0;
    relay.removeSocket(S1, 'nobody');
    relay.removeSocket(S2, 'a');
    vi.advanceTimersByTime(TICK_MS);
    expect(emitted).toHaveLength(0);
  });

  it('what it emits is a y-protocols awareness update a client applies', () => {
    relay.push(S1, 'a', update([[42, 3, { user: { name: 'Ann' }, cursor: { anchor: 1, head: 4 } }]]));
    vi.advanceTimersByTime(TICK_MS);
    const awareness = new Awareness(new Doc());
    applyAwarenessUpdate(awareness, emitted[0]![1], 'test');
    expect(awareness.getStates().get(42)).toEqual({ user: { name: 'Ann' }, cursor: { anchor: 1, head: 4 } });
    awareness.destroy();
  });

  describe('refuses malformed updates without queueing anything', () => {
    const valid = update([[1, 1, { ok: true }]]);
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(),
      truncated: valid.subarray(0, valid.length - 2),
      'trailing bytes': new Uint8Array([...valid, 0]),
      'count larger than the entries': new Uint8Array([2, ...valid.subarray(1)]),
      'state that is not JSON': (() => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 1);
        encoding.writeVarUint(e, 1);
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, '{nope');
        return encoding.toUint8Array(e);
      })(),
      'more than 1000 entries': (() => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 1001);
        return encoding.toUint8Array(e);
      })(),
      'state bytes that are not UTF-8 JSON': new Uint8Array([1, 1, 1, 2, 0xc3, 0x28]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      it(name, () => {
        expect(relay.push(S1, 'a', bytes)).toBe('malformed');
        vi.advanceTimersByTime(TICK_MS);
        expect(emitted).toHaveLength(0);
      });
    }

    it('a malformed update claims no client id', () => {
      relay.push(S1, 'a', new Uint8Array([...update([[1, 1, {}]]), 0]));
      expect(relay.push(S1, 'b', update([[1, 1, {}]]))).toBe('ok');
    });
  });

  it('keeps at most 1000 clients of one shard per tick (a newcomer beyond that waits for the next tick)', () => {
    for (let i = 0; i < 1000; i++) relay.push(S1, `s${i}`, update([[i, 1, {}]]));
    expect(relay.push(S1, 'late', update([[5000, 1, { late: true }]]))).toBe('ok');
    // A client already pending still gets its newer state.
    relay.push(S1, 's0', update([[0, 2, { moved: true }]]));
    vi.advanceTimersByTime(TICK_MS);
    const [[, entries]] = decoded(emitted) as [readonly [ShardId, Record<string, unknown>]];
    expect(Object.keys(entries)).toHaveLength(1000);
    expect(entries['5000']).toBeUndefined();
    expect(entries['0']).toEqual({ clock: 2, state: { moved: true } });
  });

  it('close drops what is pending: nothing is emitted afterwards', () => {
    relay.push(S1, 'a', update([[1, 1, {}]]));
    relay.close();
    vi.advanceTimersByTime(TICK_MS * 2);
    expect(emitted).toHaveLength(0);
  });
});
