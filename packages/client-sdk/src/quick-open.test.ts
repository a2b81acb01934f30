import { describe, expect, it } from 'vitest';
import { matchPaths } from './quick-open.js';

const PATHS = [
  'index.html',
  'package.json',
  'src/App.tsx',
  'src/main.tsx',
  'src/components/AppHeader.tsx',
  'README.md',
];

describe('matchPaths', () => {
  it('finds paths whose characters appear in order, best first', () => {
    const found = matchPaths(PATHS, 'apptsx').map((m) => m.path);
    expect(found[0]).toBe('src/App.tsx');
    expect(found).toContain('src/components/AppHeader.tsx');
    expect(found).not.toContain('src/main.tsx');
  });

  it('marks which characters matched', () => {
    const [first] = matchPaths(PATHS, 'main');
    expect(first?.path).toBe('src/main.tsx');
    expect(first?.indexes).toEqual([4, 5, 6, 7]);
  });

  it('lists everything up to the limit for an empty query, and nothing for no match', () => {
    expect(matchPaths(PATHS, '  ', 3).map((m) => m.path)).toEqual(PATHS.slice(0, 3));
    expect(matchPaths(PATHS, 'zzzq')).toEqual([]);
  });
});
