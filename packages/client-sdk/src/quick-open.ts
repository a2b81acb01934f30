import fuzzysort from 'fuzzysort';

/** One path that matched a quick-open query. */
export type PathMatch = {
  path: string;
  /** Higher is better (1 is a perfect match). */
  score: number;
  /** Indexes (UTF-16 code units) of `path` that matched the query's characters, for highlighting. */
  indexes: number[];
};

/**
 * Quick open (Ctrl/Cmd+P): file paths ranked by how well they fuzzy-match `query`, best first
 * (Sublime Text style, fuzzysort: the characters in order, rewarding runs, word starts and the
 * file name). An empty query lists the paths as given, up to `limit`.
 * @example
 * matchPaths(session.tree().map((f) => f.path), 'appts') // [{ path: 'src/App.tsx', … }, …]
 */
export function matchPaths(paths: readonly string[], query: string, limit = 50): PathMatch[] {
  const q = query.trim();
  if (q === '') return paths.slice(0, limit).map((path) => ({ path, score: 0, indexes: [] }));
  return fuzzysort.go(q, paths, { limit }).map((r) => ({ path: r.target, score: r.score, indexes: [...r.indexes] }));
}
