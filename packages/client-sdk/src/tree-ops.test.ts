import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { applyTreeOp, describeTreeOpFailure, randomId } from './tree-ops.js';

const id = (s: string) => s as FileId;

describe('tree operations applied locally', () => {
  it('creates, moves folders and deletes as the server would, and skips what no longer applies', () => {
    const files = new Map([
      [id('a'), 'src/a.js'],
      [id('b'), 'src/lib/b.js'],
      [id('c'), 'README.md'],
    ]);
    applyTreeOp(files, { kind: 'rename', opId: 'op-1', from: 'src', to: 'app' });
    expect([...files.values()]).toEqual(['app/a.js', 'app/lib/b.js', 'README.md']);
    applyTreeOp(files, { kind: 'rename', opId: 'op-2', from: 'src', to: 'x' });
    applyTreeOp(files, { kind: 'create', opId: 'op-3', path: 'readme.md', fileId: id('d') });
    expect(files.has(id('d'))).toBe(false);
    applyTreeOp(files, { kind: 'delete', opId: 'op-4', path: 'app/lib' });
    expect([...files.values()]).toEqual(['app/a.js', 'README.md']);
  });

  it('explains failures in plain words naming the files', () => {
    const op = { kind: 'create', opId: 'op-1', path: 'src/x.js', fileId: id('x') } as const;
    expect(describeTreeOpFailure(op, { code: 'FILE_EXISTS', message: 'm' }, false)).toBe(
      'Could not create src/x.js: src/x.js already exists (or a file or folder with that name in other letter case)',
    );
    expect(
      describeTreeOpFailure(
        { kind: 'delete', opId: 'op-2', path: 'a.js' },
        { code: 'FILE_NOT_FOUND', message: 'm' },
        true,
      ),
    ).toBe('Could not delete a.js: a.js no longer exists — someone renamed or deleted it while you were offline');
  });

  it('makes ids that are valid file ids and opIds', () => {
    expect(randomId(16)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(randomId(20)).not.toBe(randomId(20));
  });
});
