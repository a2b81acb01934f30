/** Path arithmetic of the preview: shard paths are relative POSIX paths without a leading slash. */

/** The folder of a path ('' for the root). */
export function dirname(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** The file extension without the dot, lower case ('' when none). `.svelte.ts` counts as `ts`. */
export function extension(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/**
 * Joins `relative` onto folder `base` and normalises `.` and `..`. Returns null when the result
 * would leave the project (more `..` than folders).
 */
export function joinPath(base: string, relative: string): string | null {
  const parts = base === '' ? [] : base.split('/');
  for (const segment of relative.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else {
      parts.push(segment);
    }
  }
  return parts.join('/');
}

/** Extensions tried, in order, for an import without one (what Vite tries, plus the SFC kinds). */
const PROBE_EXTENSIONS = ['.ts', '.tsx', '.js', '.jsx', '.mjs', '.mts', '.vue', '.svelte', '.json'];

/**
 * Resolves a URL-ish reference from a file (`./App.jsx`, `../lib`, `/src/main.ts`, `/favicon.svg`)
 * to a project path, the way Vite would: relative to the importing file's folder; a leading `/`
 * from the project root, then from `public/`; then with each known extension and as a folder
 * with an index file. Query and hash are not part of `reference`. Null when nothing matches.
 */
export function resolveProjectPath(
  reference: string,
  fromFile: string,
  exists: (path: string) => boolean,
): string | null {
  const bases: Array<string | null> = reference.startsWith('/')
    ? [joinPath('', reference), joinPath('public', reference)]
    : [joinPath(dirname(fromFile), reference)];
  for (const base of bases) {
    if (base === null || base === '') continue;
    if (exists(base)) return base;
    for (const ext of PROBE_EXTENSIONS) if (exists(base + ext)) return base + ext;
    for (const ext of PROBE_EXTENSIONS) if (exists(`${base}/index${ext}`)) return `${base}/index${ext}`;
  }
  return null;
}

/** Whether an import specifier refers to a project file rather than a package. */
export function isRelativeSpecifier(specifier: string): boolean {
  return (
    specifier.startsWith('./') ||
    specifier.startsWith('../') ||
    specifier.startsWith('/') ||
    specifier === '.' ||
    specifier === '..'
  );
}

/** Whether a reference in HTML or CSS points outside the project (another site, a data: URL, an anchor). */
export function isExternalUrl(reference: string): boolean {
  return /^(?:[a-z][a-z0-9+.-]*:|\/\/|#)/i.test(reference);
}

const MIME_TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  css: 'text/css',
  html: 'text/html',
  js: 'text/javascript',
  json: 'application/json',
  txt: 'text/plain',
  md: 'text/markdown',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  wasm: 'application/wasm',
};

/** The MIME type of a file, from its extension. */
export function mimeType(path: string): string {
  return MIME_TYPES[extension(path)] ?? 'application/octet-stream';
}

/** A data: URL holding `text` (the preview has no server, so every project file travels inline). */
export function dataUrl(text: string, mime: string): string {
  return `data:${mime};charset=utf-8,${encodeURIComponent(text)}`;
}
