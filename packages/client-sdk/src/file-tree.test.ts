import { describe, expect, it } from 'vitest';
import type { FileEntry, FileId, TreeChange } from '@tandem/protocol';
import { FileTree, type LocalTreeOps } from './file-tree.js';
import type { AckedOp } from './tree-op-queue.js';
import type { TreeOp } from './tree-ops.js';

const id = (s: string) => s as FileId;
const JOIN_VERSION = 10;

function tree(files: FileEntry[], acked: AckedOp[] = [], queued: TreeOp[] = []) {
  const deleted: Array<[FileId, number]> = [];
  const local: LocalTreeOps = { ackedOps: () => acked, queuedOps: () => queued };
  const t = new FileTree(files, JOIN_VERSION, local, (fileId, version) => deleted.push([fileId, version]));
  return { t, deleted, paths: () => (t.refresh(), t.entries().map((e) => `${e.id}:${e.path}`)) };
}

const created = (fileId: string, path: string): TreeChange => ({ kind: 'created', file: { id: id(fileId), path } });
const renamed = (fileId: string, from: string, to: string): TreeChange => ({
  kind: 'renamed',
  moves: [{ id: id(fileId), from, to }],
});
const deleted = (...files: Array<[string, string]>): TreeChange => ({
  kind: 'deleted',
  files: files.map(([fileId, path]) => ({ id: id(fileId), path })),
});

/** Applies the notices in the order given and returns the tree shown. */
function arrive(notices: Array<[TreeChange, number]>, files: FileEntry[] = []) {
  const t = tree(files);
  for (const [change, version] of notices) t.t.apply(change, version);
  return t;
}

describe('the file tree under tree notices in any order', () => {
  // Notices of different instances travel apart: a create's may arrive after the delete that
  // followed it on the server (CI model run: two clients kept a file the server had deleted).
  it('keeps a file deleted when its create arrives after the deletion', () => {
    const inOrder = arrive([
      [created('f', 'm/a/f841.txt'), 11],
      [deleted(['e', 'm/a/f166.txt'], ['f', 'm/a/f841.txt']), 12],
    ]);
    const reversed = arrive([
      [deleted(['e', 'm/a/f166.txt'], ['f', 'm/a/f841.txt']), 12],
      [created('f', 'm/a/f841.txt'), 11],
    ]);
    expect(inOrder.paths()).toEqual([]);
    expect(reversed.paths()).toEqual([]);
    expect(reversed.deleted).toEqual([
      [id('e'), 12],
      [id('f'), 12],
    ]);
  });

  it('ends every order of creates, renames and deletes with the tree the server has', () => {
    const notices: Array<[TreeChange, number]> = [
      [created('a', 'a.js'), 11],
      [renamed('a', 'a.js', 'b.js'), 12],
      [created('c', 'c.js'), 13],
      [renamed('a', 'b.js', 'src/b.js'), 14],
      [deleted(['c', 'c.js']), 15],
      [renamed('x', 'x.js', 'y.js'), 16],
    ];
    const files = [{ id: id('x'), path: 'x.js' }];
    const expected = arrive(notices, files).paths();
    expect(expected).toEqual(['a:src/b.js', 'x:y.js']);
    for (const order of permutations(notices.length)) {
      const t = arrive(
        order.map((i) => notices[i]!),
        files,
      );
      expect(t.paths(), `order ${order.join(',')}`).toEqual(expected);
      // A delete older than what the file shows is not a deletion of it.
      expect(t.deleted).toEqual([[id('c'), 15]]);
    }
  });

  it('does not let an older rename move a file a newer one moved already', () => {
    const t = arrive([
      [renamed('a', 'b.js', 'c.js'), 13],
      [renamed('a', 'a.js', 'b.js'), 12],
    ]);
    expect(t.paths()).toEqual(['a:c.js']);
  });

  it('forgets the files’ versions at a join: the reloaded clock may be lower', () => {
    const t = arrive([[deleted(['a', 'a.js']), 50]], [{ id: id('a'), path: 'a.js' }]);
    t.t.startJoin();
    t.t.joined([{ id: id('a'), path: 'a.js' }], 3);
    t.t.apply(renamed('a', 'a.js', 'b.js'), 4);
    expect(t.paths()).toEqual(['a:b.js']);
  });

  it('shows an own acknowledged operation only on the files no newer notice changed', () => {
    // Our create was acknowledged at 11; its notice is late, the delete at 12 arrived.
    const acked: AckedOp[] = [
      { op: { kind: 'create', opId: 'o1', path: 'n.js', fileId: id('n') }, version: 11, clock: 0 },
      { op: { kind: 'rename', opId: 'o2', from: 'src', to: 'lib' }, version: 13, clock: 0 },
    ];
    const files = [
      { id: id('s1'), path: 'src/one.js' },
      { id: id('s2'), path: 'src/two.js' },
    ];
    const t = tree(files, acked);
    expect(t.paths()).toEqual(['s1:lib/one.js', 's2:lib/two.js', 'n:n.js']);
    t.t.apply(deleted(['n', 'n.js']), 12);
    // A rename at 14 moved src/two.js before our folder rename's notice (13) came.
    t.t.apply(renamed('s2', 'src/two.js', 'other.js'), 14);
    expect(t.paths()).toEqual(['s1:lib/one.js', 's2:other.js']);
  });
});

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1))
    for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), n - 1, ...rest.slice(at)]);
  return out;
}
