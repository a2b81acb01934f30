/**
 * Import maps for `browser` templates: one `<script type="importmap">` that points every runtime
 * dependency at an esm.sh-compatible CDN (esm.sh itself or a self-hosted mirror). Pure and
 * browser-safe: no Node APIs, no network.
 *
 * **External rule.** Every mapped package is requested with `external=` listing every *other*
 * mapped package that is a framework runtime (a family of {@link isFrameworkRuntime}: react,
 * preact, vue, svelte, solid, angular, lit). So `react-dom` gets `?external=react`, a user library
 * such as `react-router` gets `?external=react,react-dom`, and `react` gets `?external=react-dom`
 * (harmless: it never imports it; one uniform rule beats guessing who imports whom). The CDN leaves
 * bare imports of those names in the modules it serves, and the browser resolves them through this
 * one map, where each name has exactly one URL: a framework runtime can therefore never be loaded
 * twice (two Reacts → "invalid hook call"), whatever version ranges the packages declare for it.
 * Ordinary libraries (lodash, nanoid…) are not externalised: a second copy of them is harmless,
 * while forcing our version on a package that wants another major could break it. The guarantee
 * covers imports made by mapped packages; an unmapped package that esm.sh resolves for a mapped one
 * uses the mapped runtime only if the CDN carries `external` into that build (check once against
 * the CDN in use before relying on it for libraries outside the map).
 */

/** The `imports` section of an import map (the only section we emit; no scopes are needed). */
export type ImportMap = { imports: Record<string, string> };

/** Options of {@link buildImportMap}. */
export type ImportMapOptions = {
  /**
   * Base URL of an esm.sh-compatible CDN, absolute http(s), with or without a trailing slash,
   * optionally with a path prefix (a local mirror such as `http://127.0.0.1:4000/cdn`).
   * No query string or fragment. Example: `https://esm.sh`.
   */
  cdnBaseUrl: string;
  /** Request development builds (`dev` flag: unminified, with warnings). Default `false`. */
  dev?: boolean;
};

/** Packages that must exist once per page (framework runtimes): name or `@scope/`. */
const FRAMEWORK_RUNTIMES: readonly string[] = [
  'react',
  'react-dom',
  'preact',
  '@preact/signals',
  '@preact/signals-core',
  'vue',
  '@vue/',
  'svelte',
  'solid-js',
  '@angular/',
  'rxjs',
  'zone.js',
  'lit',
  'lit-html',
  'lit-element',
  '@lit/reactive-element',
];

/**
 * True when `name` is a framework runtime that every other mapped package must share (see the
 * external rule above): react, react-dom, preact (+ signals), vue and `@vue/*`, svelte, solid-js,
 * `@angular/*`, rxjs, zone.js and lit.
 */
export function isFrameworkRuntime(name: string): boolean {
  return FRAMEWORK_RUNTIMES.some((entry) => (entry.endsWith('/') ? name.startsWith(entry) : name === entry));
}

const EXACT_VERSION =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const PACKAGE_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/;

/**
 * Builds the import map of a shard's runtime `dependencies` (never devDependencies) for esm.sh.
 * For each package it maps `name` and `name/` (subpaths such as `react-dom/client`,
 * `react/jsx-runtime`, `svelte/internal/client`), pinned to the exact version, with `external=`
 * per the external rule above. `@types/*` packages are skipped (they have no runtime code).
 * Keys are sorted, so equal inputs give byte-identical JSON.
 *
 * @throws TypeError when the base URL is not an absolute http(s) URL without query, or when a
 *   dependency has an invalid name or a version that is not exact semver (`^19.0.0`, `latest`):
 *   an import map must be reproducible, so ranges are refused rather than guessed.
 *
 * @example
 * buildImportMap({ react: '19.3.1', 'react-dom': '19.3.1' }, { cdnBaseUrl: 'https://esm.sh' })
 * // { imports: {
 * //   react: 'https://esm.sh/react@19.3.1?external=react-dom',
 * //   'react/': 'https://esm.sh/react@19.3.1&external=react-dom/',
 * //   'react-dom': 'https://esm.sh/react-dom@19.3.1?external=react',
 * //   'react-dom/': 'https://esm.sh/react-dom@19.3.1&external=react/' } }
 */
export function buildImportMap(dependencies: Record<string, string>, options: ImportMapOptions): ImportMap {
  const base = normalizeBaseUrl(options.cdnBaseUrl);
  const problems: string[] = [];
  const names = Object.keys(dependencies)
    .filter((name) => !name.startsWith('@types/'))
    .sort(compareStrings);
  for (const name of names) {
    const version = dependencies[name];
    if (!PACKAGE_NAME.test(name) || name.length > 214) problems.push(`"${name}" is not a valid package name`);
    else if (version === undefined || !EXACT_VERSION.test(version)) {
      problems.push(`${name}@${String(version)} is not an exact version`);
    }
  }
  if (problems.length > 0) throw new TypeError(`cannot build an import map: ${problems.join('; ')}`);

  const entries: Array<[string, string]> = [];
  for (const name of names) {
    const url = `${base}/${name}@${dependencies[name] ?? ''}`;
    const params: string[] = [];
    const externals = names.filter((other) => other !== name && isFrameworkRuntime(other));
    if (externals.length > 0) params.push(`external=${externals.join(',')}`);
    if (options.dev === true) params.push('dev');
    const query = params.join('&');
    entries.push([name, query === '' ? url : `${url}?${query}`]);
    // esm.sh reads `&…` after the version as the query for prefix entries: `react-dom@19.3.1&external=react/client`.
    entries.push([`${name}/`, query === '' ? `${url}/` : `${url}&${query}/`]);
  }
  entries.sort(([a], [b]) => compareStrings(a, b));
  return { imports: Object.fromEntries(entries) };
}

function normalizeBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`cdnBaseUrl must be an absolute URL, got "${input}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`cdnBaseUrl must use http or https, got "${input}"`);
  }
  if (url.search !== '' || url.hash !== '' || input.includes('?') || input.includes('#')) {
    throw new TypeError(`cdnBaseUrl must not have a query or fragment, got "${input}"`);
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
