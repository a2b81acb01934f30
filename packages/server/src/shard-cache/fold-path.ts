import { foldPath } from '@tandem/protocol';

/**
 * The case-folded form of a path (the protocol's `foldPath`: NFC and Unicode case folding, so
 * `ſrc` = `src`, `Straße` = `STRASSE`) is the key of the per-shard path index (`paths`): two paths
 * that fold alike cannot both exist in a shard (they would be one file on Windows and macOS).
 * Folding happens here, once, and the scripts get it in ARGV, so Lua does no Unicode. Case mapping
 * never produces `/`, so the folded form of `folder/rest` is the folded folder, `/`, and the
 * folded rest.
 */
export { foldPath };

/** An entry of the path index: the folded path and the file id, separated by NUL (sorts before `/`). */
export function pathIndexEntry(path: string, fileId: string): string {
  return `${foldPath(path)}\0${fileId}`;
}
