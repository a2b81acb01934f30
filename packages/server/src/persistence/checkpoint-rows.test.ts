import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { changesSince, checkpointsToPrune, mergeAuthors } from './checkpoint-rows.js';

const DAY = 86_400_000;
const policy = { keepAllMs: 7 * DAY, keepDailyMs: 90 * DAY };
const now = new Date(Date.UTC(2026, 5, 1, 12));

function at(daysAgo: number, hour: number): Date {
  return new Date(Date.UTC(2026, 5, 1 - daysAgo, hour));
}

describe('checkpointsToPrune', () => {
  it('keeps everything younger than keepAllMs, the last of each day until keepDailyMs, named and newest forever', () => {
    const checkpoints = [
      { seq: 1, createdAt: at(200, 9), label: null }, // too old
      { seq: 2, createdAt: at(200, 10), label: 'v1' }, // named
      { seq: 3, createdAt: at(30, 9), label: null }, // daily window, not last of its day
      { seq: 4, createdAt: at(30, 18), label: null }, // last of its day
      { seq: 5, createdAt: at(10, 8), label: null }, // last of its day
      { seq: 6, createdAt: at(2, 8), label: null }, // keep all
      { seq: 7, createdAt: at(2, 9), label: null }, // keep all
    ];
    expect([...checkpointsToPrune(checkpoints, policy, now)].sort()).toEqual([1, 3]);
  });

  it('never drops the newest checkpoint, however old', () => {
    const checkpoints = [
      { seq: 1, createdAt: at(400, 9), label: null },
      { seq: 2, createdAt: at(300, 9), label: null },
    ];
    expect([...checkpointsToPrune(checkpoints, policy, now)]).toEqual([1]);
  });
});

describe('changesSince', () => {
  const f = (id: string, path: string, version: number) => ({ id: id as FileId, path, version });

  it('lists new and re-versioned files, and notices renames and deletes', () => {
    const before = [f('a', 'a.ts', 1), f('b', 'b.ts', 1), f('c', 'c.ts', 1)];
    expect(changesSince(before, before)).toEqual({ changed: [], treeChanged: false });
    expect(changesSince(before, [f('a', 'a.ts', 2), f('b', 'b.ts', 1), f('c', 'c.ts', 1)])).toEqual({
      changed: ['a'],
      treeChanged: false,
    });
    expect(changesSince(before, [f('a', 'x.ts', 1), f('b', 'b.ts', 1), f('c', 'c.ts', 1)]).treeChanged).toBe(true);
    expect(changesSince(before, [f('a', 'a.ts', 1), f('b', 'b.ts', 1)])).toEqual({ changed: [], treeChanged: true });
    expect(changesSince([], before).changed).toEqual(['a', 'b', 'c']);
  });
});

describe('mergeAuthors', () => {
  it('keeps one entry per user, sorted by id', () => {
    expect(
      mergeAuthors(
        [{ userId: 'b', name: 'B' }],
        [
          { userId: 'a', name: 'A' },
          { userId: 'b', name: 'B2' },
        ],
      ),
    ).toEqual([
      { userId: 'a', name: 'A' },
      { userId: 'b', name: 'B2' },
    ]);
  });
});
