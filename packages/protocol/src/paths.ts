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
  | 'empty'
  | 'absolute'
  | 'backslash'
  | 'control-character'
  | 'invisible-character'
  | 'reserved-character'
  | 'trailing-dot-or-space'
  | 'reserved-name'
  | 'dot-segment'
  | 'too-long'
  | 'too-deep'
  | 'not-a-string';

export type PathResult = { ok: true; path: string } | { ok: false; problem: PathProblem };

// C0 and C1 control characters, NUL included.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

// Characters that draw nothing or reorder what is drawn: bidi controls (U+202A–U+202E,
// U+2066–U+2069, U+200E/U+200F), zero-width characters (U+200B–U+200D, U+2060, U+FEFF), soft
// hyphens, variation selectors and every other format character, and the line and paragraph
// separators. Two names that differ only in these look the same, and a bidi override makes
// `evil\u202Etxt.js` display as `eviljs.txt`. Also lone surrogates (`\p{Cs}` in a u-regex), which
// have no UTF-8 form and so cannot be written to a zip or a file system.
const INVISIBLE_RE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\p{Cs}]/u;

// Refused in names by Windows (`:` also opens an NTFS alternate data stream: `x.js:stream`).
const RESERVED_CHARACTER_RE = /[<>:"|?*]/;

// Windows strips a trailing dot or space from a name, so `a.js.` and `a.js ` become `a.js`.
const TRAILING_DOT_OR_SPACE_RE = /[\s.]$/u;

// Windows device names, reserved in any case and with any extension (`con.txt`, `LPT1.js`),
// the superscript digits included.
const RESERVED_NAME_RE =
  /^(?:con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(?:\..*)?$/i;

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
  if (INVISIBLE_RE.test(nfc)) return { ok: false, problem: 'invisible-character' };
  if (nfc.includes('\\')) return { ok: false, problem: 'backslash' };
  if (nfc.startsWith('/')) return { ok: false, problem: 'absolute' };
  const segments = nfc.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return { ok: false, problem: 'empty' };
  // Checked on the first canonical segment: `./C:/x` must not become the drive path `C:/x`.
  if (/^[A-Za-z]:/.test(segments[0] ?? '')) return { ok: false, problem: 'absolute' };
  // A segment that decodes to `..` (e.g. `%2e%2e`) would escape once a web server decodes it.
  if (segments.some((s) => s === '..' || decodesToDotDot(s))) return { ok: false, problem: 'dot-segment' };
  if (segments.some((s) => s.trim() === '')) return { ok: false, problem: 'empty' };
  if (segments.some((s) => RESERVED_CHARACTER_RE.test(s))) return { ok: false, problem: 'reserved-character' };
  if (segments.some((s) => TRAILING_DOT_OR_SPACE_RE.test(s))) return { ok: false, problem: 'trailing-dot-or-space' };
  if (segments.some((s) => RESERVED_NAME_RE.test(s))) return { ok: false, problem: 'reserved-name' };
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
    case 'invisible-character':
      return 'the path contains an invisible or direction-changing character (zero-width, bidi control, soft hyphen) or a lone surrogate';
    case 'reserved-character':
      return 'the path contains a character Windows does not allow in names: < > : " | ? *';
    case 'trailing-dot-or-space':
      return 'a file or folder name must not end with a dot or a space (Windows drops them)';
    case 'reserved-name':
      return 'a file or folder name must not be a Windows device name (CON, PRN, AUX, NUL, COM1–9, LPT1–9), with or without an extension';
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

/**
 * The form under which two paths count as the same name on a case-insensitive file system
 * (Windows, macOS by default): NFC, then full Unicode case folding. Upper-casing before
 * lower-casing applies the folds a plain `toLowerCase` misses (`ſ` → `s`, `ß` → `ss`, `ﬁ` → `fi`,
 * Kelvin sign → `k`); NFC again because case mapping may decompose (`ǰ` → `J̌`). Compare folded
 * paths, store the originals.
 *
 * @example
 * foldPath('Ärger.js') === foldPath('ärger.js') // true
 * foldPath('ſrc/Straße.ts') === foldPath('src/STRASSE.ts') // true
 */
export function foldPath(path: string): string {
  // Case mapping is not closed for a few characters (`ẞ` lower-cases to `ß`, which upper-cases to
  // `SS`): map again until nothing changes (two rounds at most for today's Unicode).
  let folded = path.normalize('NFC');
  for (let round = 0; round < 4; round++) {
    const next = folded.toUpperCase().toLowerCase().normalize('NFC');
    if (next === folded) break;
    folded = next;
  }
  return folded;
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
