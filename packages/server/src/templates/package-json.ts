import type { DependencyMap } from '@tandem/protocol';

/** The two dependency maps of a package.json. */
export type PackageJsonDependencies = {
  dependencies: DependencyMap;
  devDependencies: DependencyMap;
};

/**
 * Reads `dependencies` and `devDependencies` from package.json text, safely: returns null when
 * the text is not JSON, not an object, or either field is present but not an object of strings.
 * A missing field reads as `{}`. Values are returned as written (ranges included); callers decide
 * whether they accept them. Keys come back sorted so equal maps serialise equally.
 *
 * Used at startup to check templates, and by the sync code when a collaborator edits package.json.
 */
export function packageJsonDependencies(text: string): PackageJsonDependencies | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // Invalid JSON is an expected state of a file being edited: report "no answer", not a failure.
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  if (!isPlainObject(parsed)) return null;
  const dependencies = readDependencyField(parsed, 'dependencies');
  const devDependencies = readDependencyField(parsed, 'devDependencies');
  if (dependencies === null || devDependencies === null) return null;
  return { dependencies, devDependencies };
}

function readDependencyField(pkg: Record<string, unknown>, field: string): DependencyMap | null {
  if (!Object.hasOwn(pkg, field)) return {};
  const value = pkg[field];
  if (!isPlainObject(value)) return null;
  const entries = Object.entries(value);
  if (!entries.every((entry): entry is [string, string] => typeof entry[1] === 'string')) return null;
  // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Differences between two dependency maps as readable lines, empty when they are equal
 * (same names, same versions; order does not matter).
 */
export function diffDependencyMaps(
  expected: DependencyMap,
  actual: DependencyMap,
  labels: { expected: string; actual: string },
): string[] {
  const problems: string[] = [];
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  for (const name of names) {
    const want = Object.hasOwn(expected, name) ? expected[name] : undefined;
    const have = Object.hasOwn(actual, name) ? actual[name] : undefined;
    if (want === have) continue;
    if (have === undefined) problems.push(`${name}@${want} is in ${labels.expected} but missing from ${labels.actual}`);
    else if (want === undefined)
      problems.push(`${name}@${have} is in ${labels.actual} but missing from ${labels.expected}`);
    else problems.push(`${name} is ${want} in ${labels.expected} but ${have} in ${labels.actual}`);
  }
  return problems;
}
