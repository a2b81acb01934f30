import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PATH_LIMITS,
  describePathProblem,
  foldPath,
  isInside,
  normalizePath,
  parentOf,
  type PathProblem,
} from './paths.js';

function refused(input: unknown, limits = DEFAULT_PATH_LIMITS): PathProblem {
  const result = normalizePath(input, limits);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be refused, got "${result.path}"`);
  return result.problem;
}

function accepted(input: unknown, limits = DEFAULT_PATH_LIMITS): string {
  const result = normalizePath(input, limits);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(input)} to be accepted, got ${result.problem}`);
  return result.path;
}

describe('normalizePath', () => {
  it.each([
    'index.html',
    'src/App.tsx',
    'src/components/Counter.svelte',
    '.gitignore',
    'a/.hidden/b',
    '..x',
    'console.js',
    'icon.svg',
    'com10.js',
    'lpt.js',
    'src/nul-handler.ts',
    'pages/[id].tsx',
    '(group)/page.tsx',
    '@scope/pkg.json',
    'a b/c d.txt',
    'ünï/cødé.ts',
    '日本/語.md',
    'x%y',
    'a%zz',
    '100%',
  ])('keeps the canonical path %j', (path) => {
    expect(accepted(path)).toBe(path);
  });

  it.each([
    ['src//App.tsx', 'src/App.tsx'],
    ['./src/App.tsx', 'src/App.tsx'],
    ['src/./App.tsx', 'src/App.tsx'],
    ['src/App.tsx/', 'src/App.tsx'],
    ['src///nested//./deep/', 'src/nested/deep'],
    ['./a', 'a'],
  ])('normalises %j to %j', (input, expected) => {
    expect(accepted(input)).toBe(expected);
  });

  it('makes NFC and NFD twins the same path', () => {
    const nfc = 'caf\u00e9/na\u00efve.txt';
    const nfd = 'cafe\u0301/nai\u0308ve.txt';
    expect(nfc).not.toBe(nfd);
    expect(accepted(nfd)).toBe(nfc);
    expect(accepted(nfc)).toBe(nfc);
    expect(accepted('Å.md')).toBe(accepted('A\u030a.md'));
  });

  it.each([
    ['..', 'dot-segment'],
    ['../etc/passwd', 'dot-segment'],
    ['src/../../etc/passwd', 'dot-segment'],
    ['src/..', 'dot-segment'],
    ['%2e%2e/x', 'dot-segment'],
    ['%2E%2E/x', 'dot-segment'],
    ['src/%2e%2e/%2e%2e/x', 'dot-segment'],
    ['.%2e/x', 'dot-segment'],
    ['%2e/x', 'dot-segment'],
    ['a%2Fb', 'dot-segment'],
    ['a%2f..%2fb', 'dot-segment'],
    ['..%2Fetc%2Fpasswd', 'dot-segment'],
    ['a%5cb', 'dot-segment'],
    ['/etc/passwd', 'absolute'],
    ['//server/share', 'absolute'],
    ['/', 'absolute'],
    ['C:/Windows/system32', 'absolute'],
    ['c:evil', 'absolute'],
    ['./C:/Windows', 'absolute'],
    ['.//D:x', 'absolute'],
    ['src\\App.tsx', 'backslash'],
    ['..\\..\\x', 'backslash'],
    ['\\\\server\\share', 'backslash'],
    ['a\u0000b', 'control-character'],
    ['\u0000', 'control-character'],
    ['a\nb', 'control-character'],
    ['a\rb', 'control-character'],
    ['a\tb', 'control-character'],
    ['a\u001bb', 'control-character'],
    ['a\u007fb', 'control-character'],
    ['a\u0085b', 'control-character'],
    ['', 'empty'],
    ['.', 'empty'],
    ['./', 'empty'],
    ['///', 'absolute'],
    ['src/ /x', 'empty'],
    ['   ', 'empty'],
    // Names that spoof or collide on other systems.
    ['a\u200bb.js', 'invisible-character'],
    ['src/\u200dindex.js', 'invisible-character'],
    ['\ufeffa.js', 'invisible-character'],
    ['evil\u202etxt.js', 'invisible-character'],
    ['a\u2066b\u2069.js', 'invisible-character'],
    ['a\u200eb', 'invisible-character'],
    ['soft\u00adhyphen.js', 'invisible-character'],
    ['a\ufe0fb', 'invisible-character'],
    ['a\u2028b', 'invisible-character'],
    ['lone\ud800.js', 'invisible-character'],
    ['x.js:stream', 'reserved-character'],
    ['src/a:b/c.js', 'reserved-character'],
    ['what?.js', 'reserved-character'],
    ['a*.js', 'reserved-character'],
    ['a<b>.js', 'reserved-character'],
    ['say"hi".js', 'reserved-character'],
    ['a|b', 'reserved-character'],
    ['a.js.', 'trailing-dot-or-space'],
    ['src./a.js', 'trailing-dot-or-space'],
    ['a.js ', 'trailing-dot-or-space'],
    ['src /a.js', 'trailing-dot-or-space'],
    ['a.js\u00a0', 'trailing-dot-or-space'],
    ['...', 'trailing-dot-or-space'],
    ['CON', 'reserved-name'],
    ['con', 'reserved-name'],
    ['src/con.txt', 'reserved-name'],
    ['Aux.tar.gz', 'reserved-name'],
    ['nul/a.js', 'reserved-name'],
    ['PRN.js', 'reserved-name'],
    ['COM1', 'reserved-name'],
    ['lpt9.txt', 'reserved-name'],
    ['com\u00b9.js', 'reserved-name'],
    ['CONIN$', 'reserved-name'],
  ] as const)('refuses %j (%s)', (input, problem) => {
    expect(refused(input)).toBe(problem);
  });

  it.each([undefined, null, 42, true, {}, ['src/App.tsx'], new String('a')])('refuses the non-string %j', (input) => {
    expect(refused(input)).toBe('not-a-string');
  });

  it('bounds the length, in characters', () => {
    const limits = { maxPathLength: 20, maxPathDepth: 16 };
    expect(accepted('a'.repeat(20), limits)).toBe('a'.repeat(20));
    expect(refused('a'.repeat(21), limits)).toBe('too-long');
    expect(refused('a'.repeat(10_000), limits)).toBe('too-long');
    // Measured after normalisation: redundant separators do not count.
    expect(accepted(`./${'a'.repeat(9)}//${'b'.repeat(10)}`, limits)).toBe(`${'a'.repeat(9)}/${'b'.repeat(10)}`);
    expect(refused('a'.repeat(DEFAULT_PATH_LIMITS.maxPathLength + 1))).toBe('too-long');
    expect(accepted('a'.repeat(DEFAULT_PATH_LIMITS.maxPathLength))).toHaveLength(DEFAULT_PATH_LIMITS.maxPathLength);
  });

  it('bounds the depth, in segments', () => {
    const limits = { maxPathLength: 512, maxPathDepth: 3 };
    expect(accepted('a/b/c', limits)).toBe('a/b/c');
    expect(refused('a/b/c/d', limits)).toBe('too-deep');
    expect(accepted('./a//b/./c/', limits)).toBe('a/b/c');
    const deep = Array.from({ length: DEFAULT_PATH_LIMITS.maxPathDepth + 1 }, (_, i) => `d${i}`).join('/');
    expect(refused(deep)).toBe('too-deep');
    expect(accepted(deep.split('/').slice(1).join('/'))).toBe(deep.split('/').slice(1).join('/'));
  });

  it('describes every problem for error messages', () => {
    const problems: PathProblem[] = [
      'empty',
      'absolute',
      'backslash',
      'control-character',
      'invisible-character',
      'reserved-character',
      'trailing-dot-or-space',
      'reserved-name',
      'dot-segment',
      'too-long',
      'too-deep',
      'not-a-string',
    ];
    for (const problem of problems) expect(describePathProblem(problem).length).toBeGreaterThan(10);
    expect(describePathProblem('too-long', { maxPathLength: 77, maxPathDepth: 5 })).toContain('77');
    expect(describePathProblem('too-deep', { maxPathLength: 77, maxPathDepth: 5 })).toContain('5');
  });

  describe('properties', () => {
    // Path-ish strings built from the characters that matter: separators, dots, percent
    // escapes, drive letters, control characters and combining marks.
    const tricky = fc
      .array(
        fc.constantFrom(
          'a',
          'B',
          'é',
          'e\u0301',
          'Å',
          ' ',
          '.',
          '..',
          '/',
          '//',
          './',
          '../',
          '\\',
          '%',
          '%2e',
          '%2E',
          '%2f',
          '%2F',
          '%5c',
          '%00',
          '%zz',
          ':',
          'C:',
          'c',
          '\u0000',
          '\u001f',
          '\u007f',
          '\u0085',
          '\u00a0',
          '日',
          '\ud83d\ude00',
        ),
        { maxLength: 24 },
      )
      .map((parts) => parts.join(''));
    // A leading "." segment is removed before the path is checked again: weight it in.
    const prefixed = fc
      .tuple(fc.constantFrom('', './', './/', '.', '/'), fc.constantFrom('', 'C:', 'z:/', '..', '%2e%2e/'), tricky)
      .map((parts) => parts.join(''));
    const anyString = fc.oneof(
      tricky,
      prefixed,
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const limits = fc.record({
      maxPathLength: fc.integer({ min: 16, max: 64 }),
      maxPathDepth: fc.integer({ min: 1, max: 8 }),
    });

    it('is idempotent: a normalised path normalises to itself', () => {
      fc.assert(
        fc.property(anyString, limits, (input, lim) => {
          const first = normalizePath(input, lim);
          if (!first.ok) return;
          expect(normalizePath(first.path, lim)).toEqual(first);
        }),
        { numRuns: 3000 },
      );
    });

    it('never returns a path with "..", a leading "/", a backslash, NUL, or empty segments', () => {
      fc.assert(
        fc.property(anyString, limits, (input, lim) => {
          const result = normalizePath(input, lim);
          if (!result.ok) return;
          const { path } = result;
          const segments = path.split('/');
          expect(segments).not.toContain('..');
          expect(segments).not.toContain('.');
          expect(segments).not.toContain('');
          expect(path.startsWith('/')).toBe(false);
          expect(path).not.toMatch(/^[A-Za-z]:/);
          expect(path).not.toContain('\\');
          expect(path).not.toContain('\u0000');
          expect(path.length).toBeLessThanOrEqual(lim.maxPathLength);
          expect(segments.length).toBeLessThanOrEqual(lim.maxPathDepth);
          expect(path).toBe(path.normalize('NFC'));
        }),
        { numRuns: 3000 },
      );
    });

    it('accepts any path made of plain name segments', () => {
      const segment = fc
        .stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,11}$/)
        .filter((s) => !s.endsWith('.') && !/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(s) && !/^[A-Za-z]:/.test(s));
      fc.assert(
        fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segments) => {
          const path = segments.join('/');
          expect(normalizePath(path)).toEqual({ ok: true, path });
        }),
      );
    });
  });
});

describe('foldPath', () => {
  it.each([
    ['Ärger.js', 'ärger.js'],
    ['A\u0308rger.js', '\u00e4rger.js'],
    ['ſrc/main.js', 'src/main.js'],
    ['ſrc/main.js', 'SRC/MAIN.JS'],
    ['Straße.ts', 'STRASSE.ts'],
    ['straße.ts', 'strasse.ts'],
    // Capital sharp s lower-cases to ß, which folds on to ss (a property-test find on Node 24).
    ['STRAẞE.ts', 'strasse.ts'],
    ['ẞ', 'ß'],
    ['ﬁle.js', 'FILE.js'],
    ['\u212aelvin.js', 'kelvin.js'],
    ['ΣΟΦΟΣ.md', 'σοφος.md'],
    ['ΣΟΦΟΣ.md', 'σοφοσ.md'],
    ['İstanbul', 'i\u0307stanbul'],
    ['Index.HTML', 'index.html'],
  ])('folds %j and %j to the same name', (a, b) => {
    expect(foldPath(a)).toBe(foldPath(b));
  });

  it.each([
    ['a.js', 'b.js'],
    ['src/a.js', 'src-a.js'],
    ['resume.md', 'résumé.md'],
  ])('keeps %j and %j apart', (a, b) => {
    expect(foldPath(a)).not.toBe(foldPath(b));
  });

  it('folds capital sharp s all the way, so folding a folded path changes nothing', () => {
    expect(foldPath('ẞ')).toBe('ss');
    expect(foldPath(foldPath('STRAẞE'))).toBe('strasse');
  });

  it('is idempotent and keeps separators', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => {
        const folded = foldPath(s);
        expect(foldPath(folded)).toBe(folded);
        expect(folded.split('/').length).toBe(s.split('/').length);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parentOf and isInside', () => {
  it('splits off the folder', () => {
    expect(parentOf('src/lib/a.ts')).toBe('src/lib');
    expect(parentOf('a.ts')).toBe('');
  });

  it('treats a folder as containing itself and its descendants only', () => {
    expect(isInside('src/a.ts', 'src')).toBe(true);
    expect(isInside('src', 'src')).toBe(true);
    expect(isInside('srcx/a.ts', 'src')).toBe(false);
    expect(isInside('sr', 'src')).toBe(false);
  });
});
