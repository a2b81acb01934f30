/**
 * The case-folded form of a path, the key of the per-shard path index (`paths`): two paths that
 * fold alike cannot both exist in a shard (they would be one file on Windows and macOS). Folding
 * happens here, once, and the scripts get it in ARGV, so Lua does no Unicode. It keeps `/` where
 * it is and folds each segment on its own, so the folded form of `folder/rest` is the folded
 * folder, `/`, and the folded rest.
 */
export function foldPath(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/** An entry of the path index: the folded path and the file id, separated by NUL (sorts before `/`). */
export function pathIndexEntry(path: string, fileId: string): string {
  return `${foldPath(path)}\0${fileId}`;
}
