import { describe, expect, it } from 'vitest';
import { diffDependencyMaps, packageJsonDependencies } from './index.js';

describe('packageJsonDependencies', () => {
  it('reads both maps, sorted, with missing fields as {}', () => {
    const text = JSON.stringify({ name: 'x', dependencies: { vue: '3.5.45', axios: '^1.0.0' } });
    const result = packageJsonDependencies(text);
    expect(result).toEqual({ dependencies: { axios: '^1.0.0', vue: '3.5.45' }, devDependencies: {} });
    expect(Object.keys(result?.dependencies ?? {})).toEqual(['axios', 'vue']);
  });

  it('returns null for text that is not a package.json it can trust', () => {
    for (const text of [
      '',
      '{ "dependencies": ',
      'null',
      '[]',
      '"text"',
      '42',
      '{"dependencies": []}',
      '{"dependencies": "react"}',
      '{"devDependencies": {"vite": 8}}',
      '{"dependencies": null}',
    ]) {
      expect(packageJsonDependencies(text), text).toBeNull();
    }
  });

  it('keeps a "__proto__" package name as a plain key without touching prototypes', () => {
    const result = packageJsonDependencies('{"dependencies": {"__proto__": "1.0.0", "a": "1.0.0"}}');
    expect(result).not.toBeNull();
    expect(Object.getPrototypeOf(result?.dependencies)).toBe(Object.prototype);
    expect(Object.hasOwn(result?.dependencies ?? {}, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
});

describe('diffDependencyMaps', () => {
  const labels = { expected: 'template.json', actual: 'package.json' };

  it('is empty for equal maps in any order', () => {
    expect(diffDependencyMaps({ a: '1.0.0', b: '2.0.0' }, { b: '2.0.0', a: '1.0.0' }, labels)).toEqual([]);
  });

  it('names missing, extra and different packages', () => {
    expect(diffDependencyMaps({ a: '1.0.0', b: '2.0.0' }, { b: '2.1.0', c: '3.0.0' }, labels)).toEqual([
      'a@1.0.0 is in template.json but missing from package.json',
      'b is 2.0.0 in template.json but 2.1.0 in package.json',
      'c@3.0.0 is in package.json but missing from template.json',
    ]);
  });
});
