/** Limits applied to file paths. */
export type PathLimits = {
  /** Maximum length of a whole path in UTF-16 code units. Default 512. */
  maxPathLength: number;
  /** Maximum number of segments (folders + file name). Default 16. */
  maxPathDepth: number;
};

/** Defaults used when a caller does not pass limits. */
export const DEFAULT_PATH_LIMITS: PathLimits = Object.freeze({ maxPathLength: 512, maxPathDepth: 16 });

/** Why a path was refused. */
export type PathProblem =
  'empty' | 'absolute' | 'backslash' | 'control-character' | 'dot-segment' | 'too-long' | 'too-deep' | 'not-a-string';

export type PathResult = { ok: true; path: string } | { ok: false; problem: PathProblem };

// C0 and C1 control characters, NUL included.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Turns a user-supplied path into the one canonical form a shard stores: relative, POSIX
 * separators, Unicode NFC (so normalisation twins are the same path), no empty, `.` or `..`
 * segments, no trailing slash. Refuses what cannot be made canonical without guessing.
 *
 * @example
 * normalizePath('src//App.tsx') // { ok: true, path: 'src/App.tsx' }
 * normalizePath('../etc/passwd') // { ok: false, problem: 'dot-segment' }
 */
export function normalizePath(input: unknown, limits: PathLimits = DEFAULT_PATH_LIMITS): PathResult {
  if (typeof input !== 'string') return { ok: false, problem: 'not-a-string' };
  if (input.length > limits.maxPathLength * 4) return { ok: false, problem: 'too-long' };
  const nfc = input.normalize('NFC');
  if (CONTROL_RE.test(nfc)) return { ok: false, problem: 'control-character' };
  if (nfc.includes('\\')) return { ok: false, problem: 'backslash' };
  if (nfc.startsWith('/')) return { ok: false, problem: 'absolute' };
  const segments = nfc.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return { ok: false, problem: 'empty' };
  // Checked on the first canonical segment: `./C:/x` must not become the drive path `C:/x`.
  if (/^[A-Za-z]:/.test(segments[0] ?? '')) return { ok: false, problem: 'absolute' };
  // A segment that decodes to `..` (e.g. `%2e%2e`) would escape once a web server decodes it.
  if (segments.some((s) => s === '..' || decodesToDotDot(s))) return { ok: false, problem: 'dot-segment' };
  if (segments.some((s) => s.trim() === '')) return { ok: false, problem: 'empty' };
  if (segments.length > limits.maxPathDepth) return { ok: false, problem: 'too-deep' };
  const path = segments.join('/');
  if (path.length > limits.maxPathLength) return { ok: false, problem: 'too-long' };
  return { ok: true, path };
}

function decodesToDotDot(segment: string): boolean {
  if (!segment.includes('%')) return false;
  try {
    const decoded = decodeURIComponent(segment);
    return decoded === '..' || decoded === '.' || decoded.includes('/') || decoded.includes('\\');
  } catch {
    // A malformed escape sequence is not a dot segment; it stays a literal name.
    return false;
  }
}

/** Human-readable explanation of a path problem, for error messages. */
export function describePathProblem(problem: PathProblem, limits: PathLimits = DEFAULT_PATH_LIMITS): string {
  switch (problem) {
    case 'empty':
      return 'the path is empty or has an empty segment';
    case 'absolute':
      return 'the path must be relative to the shard root (no leading "/" or drive letter)';
    case 'backslash':
      return 'use "/" as the separator; backslashes are not allowed';
    case 'control-character':
      return 'the path contains NUL or another control character';
    case 'dot-segment':
      return 'the path must not contain ".." segments';
    case 'too-long':
      return `the path is longer than ${limits.maxPathLength} characters`;
    case 'too-deep':
      return `the path has more than ${limits.maxPathDepth} segments`;
    case 'not-a-string':
      return 'the path must be a string';
  }
}

/** The folder part of a canonical path ('' for a file at the root). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

/** True when canonical `path` is `folder` itself or inside it. */
export function isInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

/**
 * The order of paths in every file tree the server and the SDK return: by UTF-16 code units,
 * like a plain `<` on strings (so `B.js` comes before `a.js`).
 */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
