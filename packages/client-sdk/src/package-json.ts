import type * as Y from 'yjs';
import type { DependencyMap } from '@tandem/protocol';
import { TandemError } from './tandem-error.js';

/**
 * Editing the dependencies of a project's package.json text: what a Dependencies panel reads and
 * writes. Pure text functions (they parse and print JSON, keeping the file's indentation and
 * final newline, sorting each map by name like npm does), plus applyTextChange, which writes the
 * result into a shared Y.Text as one small edit so collaborators' concurrent typing elsewhere in
 * the file is kept.
 */

/** The two dependency maps of a package.json. */
export type PackageDependencies = { dependencies: DependencyMap; devDependencies: DependencyMap };

/** One dependency to add or change. */
export type DependencyInput = {
  /** The npm package name, e.g. `react` or `@vitejs/plugin-react`. */
  name: string;
  /** A version, range or dist-tag (`18.3.1`, `^18.3.0`, `next`). Default `latest`. */
  version?: string;
  /** Put it in devDependencies (and take it out of dependencies). Default false. */
  dev?: boolean;
};

const NAME = /^(?:@[a-z0-9-*~][a-z0-9-*._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Why a package name is not one npm accepts, or null when it is. */
export function packageNameProblem(name: string): string | null {
  if (name.length === 0) return 'a package name is required';
  if (name.length > 214) return 'a package name has at most 214 characters';
  if (name.trim() !== name) return 'a package name has no leading or trailing spaces';
  if (name.startsWith('.') || name.startsWith('_')) return 'a package name cannot start with "." or "_"';
  if (!NAME.test(name)) return 'a package name is lower case letters, digits and - . _ ~ (and @scope/ before it)';
  return null;
}

/** Why a version or range is not usable in package.json, or null when it is. */
export function versionProblem(version: string): string | null {
  if (version.trim() === '') return 'a version or range is required (or "latest")';
  if (version.length > 256) return 'a version has at most 256 characters';
  if ([...version].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    return 'a version cannot hold control characters';
  }
  return null;
}

/** The dependency maps of package.json text; null when it is not a JSON object with string maps. */
export function readDependencies(text: string): PackageDependencies | null {
  const pkg = parse(text);
  if (pkg === null) return null;
  const dependencies = mapOf(pkg['dependencies']);
  const devDependencies = mapOf(pkg['devDependencies']);
  if (dependencies === null || devDependencies === null) return null;
  return { dependencies, devDependencies };
}

/**
 * package.json text with one dependency added or changed (moved between dependencies and
 * devDependencies when `dev` says so). Throws VALIDATION_FAILED for a bad name or version, or when
 * the text is not a JSON object (fix package.json first).
 */
export function withDependency(text: string, input: DependencyInput): string {
  const version = (input.version ?? 'latest').trim();
  const problem = packageNameProblem(input.name) ?? versionProblem(version);
  if (problem !== null) throw invalid(problem, { name: input.name, version });
  const pkg = parseOrThrow(text);
  const into = input.dev === true ? 'devDependencies' : 'dependencies';
  const other = input.dev === true ? 'dependencies' : 'devDependencies';
  const target = { ...(mapOrThrow(pkg, into) ?? {}), [input.name]: version };
  const rest = mapOrThrow(pkg, other);
  const next: Record<string, unknown> = { ...pkg, [into]: sorted(target) };
  if (rest !== undefined && Object.hasOwn(rest, input.name)) {
    const { [input.name]: _moved, ...kept } = rest;
    next[other] = kept;
  }
  return print(next, text);
}

/**
 * package.json text without a dependency (from both maps). Throws VALIDATION_FAILED when the text
 * is not a JSON object; unchanged text when the dependency is not there.
 */
export function withoutDependency(text: string, name: string): string {
  const pkg = parseOrThrow(text);
  let changed = false;
  const next: Record<string, unknown> = { ...pkg };
  for (const field of ['dependencies', 'devDependencies'] as const) {
    const map = mapOrThrow(pkg, field);
    if (map === undefined || !Object.hasOwn(map, name)) continue;
    const { [name]: _removed, ...kept } = map;
    next[field] = kept;
    changed = true;
  }
  return changed ? print(next, text) : text;
}

/**
 * Writes `next` into a shared text as one replacement of the part that differs (common prefix and
 * suffix kept), in one transaction: collaborators see one change, and their concurrent edits
 * outside that part survive the merge.
 */
export function applyTextChange(text: Y.Text, next: string): void {
  const current = text.toString();
  if (current === next) return;
  let start = 0;
  const max = Math.min(current.length, next.length);
  while (start < max && current.charCodeAt(start) === next.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && current.charCodeAt(current.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) {
    end++;
  }
  const apply = (): void => {
    if (current.length - end > start) text.delete(start, current.length - end - start);
    if (next.length - end > start) text.insert(start, next.slice(start, next.length - end));
  };
  if (text.doc === null) apply();
  else text.doc.transact(apply);
}

/** A new package.json for a project that has none, holding one dependency. */
export function newPackageJson(input: DependencyInput, name = 'project'): string {
  return withDependency(`${JSON.stringify({ name, private: true }, null, 2)}\n`, input);
}

function parse(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Invalid JSON is an expected state of a file someone is typing into.
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function parseOrThrow(text: string): Record<string, unknown> {
  const pkg = parse(text);
  if (pkg === null) throw invalid('package.json is not a JSON object; fix it in the editor first', {});
  return pkg;
}

function mapOf(value: unknown): DependencyMap | null {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  if (!entries.every(([, v]) => typeof v === 'string')) return null;
  return Object.fromEntries(entries) as DependencyMap;
}

function mapOrThrow(pkg: Record<string, unknown>, field: string): DependencyMap | undefined {
  if (pkg[field] === undefined) return undefined;
  const map = mapOf(pkg[field]);
  if (map === null) throw invalid(`package.json "${field}" is not an object of version strings; fix it first`, {});
  return map;
}

function sorted(map: DependencyMap): DependencyMap {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** JSON with the original's indentation (two spaces when it has none) and final newline. */
function print(value: Record<string, unknown>, original: string): string {
  const indent = /^\{\r?\n([ \t]+)"/.exec(original)?.[1] ?? '  ';
  const newline = original.includes('\r\n') ? '\r\n' : '\n';
  const body = JSON.stringify(value, null, indent).replaceAll('\n', newline);
  return /\r?\n$/.test(original) || original === '' ? `${body}${newline}` : body;
}

function invalid(message: string, details: Record<string, unknown>): TandemError {
  return new TandemError({ code: 'VALIDATION_FAILED', message, details });
}

/** Turns a version, range or dist-tag into the exact version it stands for now. */
export type VersionResolver = (name: string, range: string) => Promise<string>;

const EXACT = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** True for an exact semver version (`1.2.3`, `1.2.3-beta.1`): what a preview's import map pins. */
export function isExactVersion(version: string): boolean {
  return EXACT.test(version);
}

/**
 * A VersionResolver that asks an esm.sh-compatible CDN (the preview's, e.g. the server's
 * PREVIEW_CDN_URL) for `<name>@<range>/package.json` and reads its `version`. Exact versions are
 * returned as they are, without a request. Throws VALIDATION_FAILED when the CDN knows no such
 * package or version, UNAVAILABLE when it cannot be reached.
 * @example
 * await session.setDependency({ name: 'canvas-confetti' }, { resolveVersion: cdnVersionResolver('https://esm.sh') })
 * // package.json: "canvas-confetti": "1.9.3" (what `latest` was then)
 */
export function cdnVersionResolver(cdnBaseUrl: string): VersionResolver {
  const base = cdnBaseUrl.replace(/\/+$/, '');
  return async (name, range) => {
    if (isExactVersion(range)) return range;
    let response: Response;
    try {
      response = await fetch(`${base}/${name}@${encodeURIComponent(range)}/package.json`);
    } catch (error) {
      throw new TandemError({
        code: 'UNAVAILABLE',
        message: `could not reach the package CDN to resolve ${name}@${range}: ${String(error)}`,
      });
    }
    const body = response.ok ? ((await response.json().catch(() => null)) as { version?: unknown } | null) : null;
    const version = body?.version;
    if (typeof version !== 'string' || !isExactVersion(version)) {
      throw invalid(`no published version of ${name} matches "${range}"`, { name, version: range });
    }
    return version;
  };
}
