import { describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { PREVIEW_CHARS, searchFiles, searchText } from './text-search.js';

async function* files(...entries: Array<[string, string]>) {
  for (const [path, content] of entries) yield { id: `id-${path.replace(/\W/g, '')}` as FileId, path, content };
}

describe('searchText', () => {
  it('reports 1-based lines and columns of every occurrence', () => {
    const found = searchText('alpha\nbeta alpha\r\nalphalpha', 'alpha', true, 10);
    expect(found.map((m) => [m.line, m.column, m.preview])).toEqual([
      [1, 1, 'alpha'],
      [2, 6, 'beta alpha'],
      [3, 1, 'alphalpha'],
    ]);
  });

  it('ignores case unless asked not to', () => {
    expect(searchText('Foo foo FOO', 'foo', false, 10)).toHaveLength(3);
    expect(searchText('Foo foo FOO', 'foo', true, 10)).toHaveLength(1);
  });

  it('stops at the limit', () => {
    expect(searchText('x'.repeat(50), 'x', true, 7)).toHaveLength(7);
  });

  it('cuts long lines to a preview around the match', () => {
    const line = `${'a'.repeat(1000)}needle${'b'.repeat(1000)}`;
    const [match] = searchText(line, 'needle', true, 1);
    expect(match?.column).toBe(1001);
    expect(match?.preview.length).toBe(PREVIEW_CHARS);
    const at = (match?.previewColumn ?? 0) - 1;
    expect(match?.preview.slice(at, at + 6)).toBe('needle');
  });
});

describe('searchFiles', () => {
  it('keeps file order and says when the limit cut the results', async () => {
    const all = await searchFiles(files(['a.ts', 'x x'], ['b.ts', 'x']), {
      query: 'x',
      caseSensitive: true,
      limit: 10,
    });
    expect(all.matches.map((m) => m.path)).toEqual(['a.ts', 'a.ts', 'b.ts']);
    expect(all.truncated).toBe(false);
    const cut = await searchFiles(files(['a.ts', 'x x'], ['b.ts', 'x'], ['c.ts', 'x']), {
      query: 'x',
      caseSensitive: true,
      limit: 2,
    });
    expect(cut.matches).toHaveLength(2);
    expect(cut.truncated).toBe(true);
    // It stopped reading at the file that went past the limit.
    expect(cut.filesSearched).toBe(2);
  });
});
