import { comparePaths, describePathProblem, ErrorCode, normalizePath, type FileEntry } from '@tandem/protocol';
import { AppError } from '../errors/index.js';

/** The path limits a canonical path must keep (MAX_PATH_LENGTH, MAX_PATH_DEPTH). */
export type PathLimits = { maxPathLength: number; maxPathDepth: number };

/** The canonical form of a path a client sent; PATH_INVALID (naming the problem) when it has none. */
export function canonicalPath(raw: string, limits: PathLimits): string {
  const pathLimits = { maxPathLength: limits.maxPathLength, maxPathDepth: limits.maxPathDepth };
  const result = normalizePath(raw, pathLimits);
  if (!result.ok) {
    throw new AppError(ErrorCode.PATH_INVALID, `invalid path: ${describePathProblem(result.problem, pathLimits)}`, {
      details: { problem: result.problem },
    });
  }
  return result.path;
}

/** Sorts file entries in place by path, in the protocol's order, and returns them. */
export function sortByPath(files: FileEntry[]): FileEntry[] {
  return files.sort((a, b) => comparePaths(a.path, b.path));
}
