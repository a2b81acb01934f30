import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  applyTextChange,
  newPackageJson,
  packageNameProblem,
  readDependencies,
  versionProblem,
  withDependency,
  withoutDependency,
} from './package-json.js';

const pkg = `{
    "name": "demo",
    "dependencies": {
        "react": "18.3.1"
    },
    "devDependencies": {
        "vite": "5.4.0"
    }
}
`;

describe('package.json dependencies', () => {
  it('reads both maps, and null for text that is not a package.json yet', () => {
    expect(readDependencies(pkg)).toEqual({ dependencies: { react: '18.3.1' }, devDependencies: { vite: '5.4.0' } });
    expect(readDependencies('{"name": "x"}')).toEqual({ dependencies: {}, devDependencies: {} });
    expect(readDependencies('{"dependencies": {')).toBeNull();
    expect(readDependencies('{"dependencies": {"a": 1}}')).toBeNull();
    expect(readDependencies('[]')).toBeNull();
  });

  it('adds with latest by default, sorted by name, keeping indentation and the final newline', () => {
    const next = withDependency(pkg, { name: 'canvas-confetti' });
    expect(readDependencies(next)?.dependencies).toEqual({ 'canvas-confetti': 'latest', react: '18.3.1' });
    expect(Object.keys(readDependencies(next)!.dependencies)).toEqual(['canvas-confetti', 'react']);
    expect(next).toContain('\n    "dependencies": {\n        "canvas-confetti": "latest",');
    expect(next.endsWith('}\n')).toBe(true);
    expect(JSON.parse(next).name).toBe('demo');
  });

  it('changes a version, moves between dependencies and devDependencies, and removes', () => {
    const changed = withDependency(pkg, { name: 'react', version: ' ^19.0.0 ' });
    expect(readDependencies(changed)?.dependencies).toEqual({ react: '^19.0.0' });
    const moved = withDependency(changed, { name: 'react', version: '19.0.0', dev: true });
    expect(readDependencies(moved)).toEqual({ dependencies: {}, devDependencies: { react: '19.0.0', vite: '5.4.0' } });
    const removed = withoutDependency(moved, 'vite');
    expect(readDependencies(removed)).toEqual({ dependencies: {}, devDependencies: { react: '19.0.0' } });
    expect(withoutDependency(removed, 'not-there')).toBe(removed);
  });

  it('refuses bad names and versions, and a package.json that does not parse, with VALIDATION_FAILED', () => {
    for (const name of ['', 'React', ' react', '.hidden', '_x', 'a b', '@scope', 'a/b/c', 'x'.repeat(215)]) {
      expect(packageNameProblem(name), name).not.toBeNull();
      expect(() => withDependency(pkg, { name })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
    for (const name of ['react', '@vitejs/plugin-react', 'lodash.debounce', 'a-b_c~d'])
      expect(packageNameProblem(name)).toBeNull();
    expect(versionProblem('  ')).not.toBeNull();
    expect(versionProblem('1.0.0\n')).not.toBeNull();
    expect(versionProblem('>=1.2.3 <2')).toBeNull();
    expect(() => withDependency('{"name":', { name: 'react' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(() => withDependency('{"dependencies": []}', { name: 'react' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(readDependencies(newPackageJson({ name: 'nanoid', version: '5.0.0' }))?.dependencies).toEqual({
      nanoid: '5.0.0',
    });
  });

  it('writes the change into a shared text as one small edit that keeps concurrent edits elsewhere', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    a.getText('content').insert(0, pkg);
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const textA = a.getText('content');
    const textB = b.getText('content');
    let transactions = 0;
    a.on('afterTransaction', () => transactions++);
    applyTextChange(textA, withDependency(textA.toString(), { name: 'zod', version: '4.0.0' }));
    expect(transactions).toBe(1);
    // Meanwhile b renamed the project (the same line range is not touched).
    textB.delete(15, 4);
    textB.insert(15, 'mine');
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(textA.toString()).toBe(textB.toString());
    expect(JSON.parse(textA.toString())).toMatchObject({
      name: 'mine',
      dependencies: { react: '18.3.1', zod: '4.0.0' },
    });
    applyTextChange(textA, textA.toString());
    expect(transactions).toBe(2);
  });
});
