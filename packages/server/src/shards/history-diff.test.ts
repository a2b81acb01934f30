import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { binaryDigest, diffTrees, type DiffSide } from './history-diff.js';

const f = (id: string, path: string, content: string): DiffSide => ({ id: id as FileId, path, content });

describe('diffTrees', () => {
  it('lists added, removed, renamed and modified files with unified diffs, and skips unchanged ones', () => {
    const from = [
      f('a', 'a.ts', 'one\ntwo\n'),
      f('b', 'b.ts', 'bee\n'),
      f('c', 'c.ts', 'same\n'),
      f('d', 'd.ts', 'dee\n'),
    ];
    const to = [
      f('a', 'a.ts', 'one\nTWO\n'),
      f('b', 'lib/b.ts', 'bee\n'),
      f('c', 'c.ts', 'same\n'),
      f('e', 'e.ts', 'new\n'),
    ];
    const diffs = diffTrees(from, to);
    expect(diffs.map((d) => [d.status, d.path, d.oldPath])).toEqual([
      ['modified', 'a.ts', null],
      ['removed', 'd.ts', null],
      ['added', 'e.ts', null],
      ['renamed', 'lib/b.ts', 'b.ts'],
    ]);
    const a = diffs[0];
    expect(a).toMatchObject({ additions: 1, deletions: 1 });
    expect(a?.patch).toContain('--- a/a.ts');
    expect(a?.patch).toContain('+++ b/a.ts');
    expect(a?.patch).toContain('-two');
    expect(a?.patch).toContain('+TWO');
    expect(diffs[3]).toMatchObject({ additions: 0, deletions: 0, patch: '' });
    expect(diffs[1]?.patch).toContain('+++ /dev/null');
  });

  it('matches a file recreated under a new id by its path', () => {
    const diffs = diffTrees([f('a', 'a.ts', 'x\n')], [f('z', 'a.ts', 'y\n')]);
    expect(diffs).toHaveLength(1);
    expect(diffs[0]).toMatchObject({ status: 'modified', fileId: 'z', additions: 1, deletions: 1 });
    expect(diffTrees([f('a', 'a.ts', 'x\n')], [f('z', 'a.ts', 'x\n')])).toEqual([]);
  });

  it('compares binary files by their bytes and marks them instead of diffing lines', () => {
    const bin = (id: string, path: string, ...bytes: number[]): DiffSide => ({
      id: id as FileId,
      path,
      kind: 'binary',
      content: binaryDigest(new Uint8Array(bytes)),
    });
    const diffs = diffTrees(
      [bin('p', 'logo.png', 1, 2, 3), bin('q', 'same.png', 9), bin('r', 'old.png', 4), bin('s', 'gone.png', 5)],
      [bin('p', 'logo.png', 1, 2, 4), bin('q', 'same.png', 9), bin('r', 'img/old.png', 4), bin('t', 'new.png', 6)],
    );
    expect(diffs.map((d) => [d.status, d.path, d.binary, d.additions, d.deletions, d.patch])).toEqual([
      ['removed', 'gone.png', true, 0, 0, 'Binary files a/gone.png and /dev/null differ\n'],
      ['renamed', 'img/old.png', true, 0, 0, ''],
      ['modified', 'logo.png', true, 0, 0, 'Binary files a/logo.png and b/logo.png differ\n'],
      ['added', 'new.png', true, 0, 0, 'Binary files /dev/null and b/new.png differ\n'],
    ]);
  });
});
