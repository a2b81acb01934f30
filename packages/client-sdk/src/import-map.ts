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

const PACKAGE_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/;
/**
 * What npm writes in `dependencies` that a CDN can resolve: an exact version, a semver range
 * (`^1.9.3`, `~2.0.0`, `>=1 <2`, `1.x`, `*`, `1 || 2`) or a dist-tag (`latest`, `next`).
 * Not: `file:`, `link:`, `workspace:`, `npm:` aliases, git and tarball URLs (nothing to fetch).
 */
const VERSION_SPEC = /^(?:[0-9A-Za-z.+\-^~<>=|* ]+|[a-z][a-z0-9._-]*)$/;

/** A dependency the import map leaves out, with the reason in words. */
export type UnusableDependency = { name: string; version: string; reason: string };

/** The import map and the dependencies that could not go into it. */
export type ImportMapPlan = { importMap: ImportMap; unusable: UnusableDependency[] };

/**
 * Builds the import map of a shard's runtime `dependencies` (never devDependencies) for esm.sh.
 * For each package it maps `name` and `name/` (subpaths such as `react-dom/client`,
 * `react/jsx-runtime`, `svelte/internal/client`) at the version written in package.json, with
 * `external=` per the external rule above. Versions may be exact (reproducible: what templates
 * pin) or anything npm writes that a registry resolves (`^1.9.3`, `~2.0.0`, `>=1 <2`, `latest`):
 * the CDN resolves those (esm.sh does), the range percent-encoded where a URL needs it.
 * `@types/*` packages are skipped (they have no runtime code). Keys are sorted, so equal inputs
 * give byte-identical JSON.
 *
 * @throws TypeError when the base URL is not an absolute http(s) URL without query, or when a
 *   dependency has an invalid name or a version no CDN can resolve (`file:../x`, a git URL), all
 *   of them listed. {@link planImportMap} skips those instead.
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
  const { importMap, unusable } = planImportMap(dependencies, options);
  if (unusable.length > 0)
    throw new TypeError(`cannot build an import map: ${unusable.map((u) => u.reason).join('; ')}`);
  return importMap;
}

/**
 * As {@link buildImportMap}, but a dependency that cannot be mapped is left out and reported
 * (one entry per dependency, its reason naming it) rather than failing the whole map: one bad
 * line in package.json must not take every other package of the preview down with it.
 *
 * @throws TypeError only for a bad `cdnBaseUrl`.
 */
export function planImportMap(dependencies: Record<string, string>, options: ImportMapOptions): ImportMapPlan {
  const base = normalizeBaseUrl(options.cdnBaseUrl);
  const unusable: UnusableDependency[] = [];
  const names = Object.keys(dependencies)
    .filter((name) => !name.startsWith('@types/'))
    .sort(compareStrings)
    .filter((name) => {
      const version = dependencies[name];
      const reason =
        !PACKAGE_NAME.test(name) || name.length > 214
          ? `"${name}" is not a valid package name`
          : typeof version !== 'string' || version.trim() === '' || !VERSION_SPEC.test(version.trim())
            ? `${name}@${String(version)} is not a version or range a CDN can resolve (use a version such as "1.2.3" or "^1.2.3")`
            : null;
      if (reason !== null) unusable.push({ name, version: String(version), reason });
      return reason === null;
    });

  const entries: Array<[string, string]> = [];
  for (const name of names) {
    const version = encodeVersion((dependencies[name] ?? '').trim());
    const url = `${base}/${name}@${version}`;
    const params: string[] = [];
    const externals = names.filter((other) => other !== name && isFrameworkRuntime(other));
    if (externals.length > 0) params.push(`external=${externals.join(',')}`);
    if (options.dev === true) params.push('dev');
    const query = params.join('&');
    entries.push([name, query === '' ? url : `${url}?${query}`]);
    entries.push([`${name}/`, prefixUrl(base, name, version, externals, options.dev === true)]);
  }
  entries.sort(([a], [b]) => compareStrings(a, b));
  return { importMap: { imports: Object.fromEntries(entries) }, unusable };
}

/**
 * The URL of a prefix entry (`name/` → subpaths such as `react-dom/client`). A subpath follows
 * the prefix, so esm.sh reads options written after the version with `&`:
 * `react-dom@19.3.1&external=react/client`. A scoped name in that `external` list breaks esm.sh's
 * parsing of the path (the `/` of `@angular/core`; esm.sh issue #1074), so when one of the
 * externals is scoped the entry uses esm.sh's `*` form instead: every dependency of the package
 * stays a bare import, resolved by this map (`*@angular/common@22.2.6/http`).
 */
function prefixUrl(base: string, name: string, version: string, externals: string[], dev: boolean): string {
  if (externals.some((other) => other.startsWith('@'))) return `${base}/*${name}@${version}${dev ? '&dev' : ''}/`;
  const params = [...(externals.length > 0 ? [`external=${externals.join(',')}`] : []), ...(dev ? ['dev'] : [])];
  return `${base}/${name}@${version}${params.length > 0 ? `&${params.join('&')}` : ''}/`;
}

/** A version or range as a URL path segment: `>=1 <2` → `%3E%3D1%20%3C2`; `^1.9.3` stays readable. */
function encodeVersion(version: string): string {
  return version.replace(/[^0-9A-Za-z.+\-^~*]/g, (c) => encodeURIComponent(c));
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
