import { createHash } from 'node:crypto';
import { structuredPatch, formatPatch } from 'diff';
import type { FileChangeStatus, FileDiff, FileId } from '@tandem/protocol';

/**
 * One file on one side of a diff. A binary file (`kind: 'binary'`) has its bytes' digest
 * (binaryDigest) as `content`: it is compared, never diffed line by line.
 */
export type DiffSide = { id: FileId; path: string; content: string; kind?: 'binary' | undefined };

/** What stands for a binary file's bytes in a diff: their SHA-256, hex. */
export function binaryDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Longest one file's line diff may take; past it the file is listed with `patch: null`. */
const DIFF_TIMEOUT_MS = 1000;

/**
 * The changed files between two states of a shard (`from` older, `to` newer), sorted by path.
 * Files are matched by id (a rename keeps it), then, among the rest, by path (a file deleted and
 * created again, or restored, has a new id but is the same file to a reader).
 */
export function diffTrees(from: readonly DiffSide[], to: readonly DiffSide[]): FileDiff[] {
  const fromById = new Map(from.map((f) => [f.id, f]));
  const pairs: Array<[DiffSide | undefined, DiffSide | undefined]> = [];
  const matched = new Set<FileId>();
  const unmatchedTo: DiffSide[] = [];
  for (const file of to) {
    const old = fromById.get(file.id);
    if (old === undefined) unmatchedTo.push(file);
    else {
      matched.add(old.id);
      pairs.push([old, file]);
    }
  }
  const restFromByPath = new Map(from.filter((f) => !matched.has(f.id)).map((f) => [f.path, f]));
  for (const file of unmatchedTo) {
    const old = restFromByPath.get(file.path);
    if (old !== undefined) restFromByPath.delete(file.path);
    pairs.push([old, file]);
  }
  for (const old of restFromByPath.values()) pairs.push([old, undefined]);

  const diffs: FileDiff[] = [];
  for (const [old, now] of pairs) {
    const diff = diffFile(old, now);
    if (diff !== null) diffs.push(diff);
  }
  return diffs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function diffFile(old: DiffSide | undefined, now: DiffSide | undefined): FileDiff | null {
  const status: FileChangeStatus =
    old === undefined ? 'added' : now === undefined ? 'removed' : old.path !== now.path ? 'renamed' : 'modified';
  if (status === 'modified' && old?.content === now?.content) return null;
  const side = (now ?? old) as DiffSide;
  const oldPath = old?.path ?? null;
  const oldText = old?.content ?? '';
  const newText = now?.content ?? '';
  const base = { status, path: side.path, oldPath: status === 'renamed' ? oldPath : null, fileId: side.id };
  if (old?.kind === 'binary' || now?.kind === 'binary') {
    // No line diff of bytes: git's marker, and `binary: true` for clients.
    const same = old !== undefined && now !== undefined && old.kind === now.kind && old.content === now.content;
    const patch = same
      ? ''
      : `Binary files ${old === undefined ? '/dev/null' : `a/${old.path}`} and ${now === undefined ? '/dev/null' : `b/${now.path}`} differ\n`;
    return { ...base, additions: 0, deletions: 0, patch, binary: true };
  }
  if (oldText === newText) return { ...base, additions: 0, deletions: 0, patch: '' };
  const patch = structuredPatch(
    old === undefined ? '/dev/null' : `a/${old.path}`,
    now === undefined ? '/dev/null' : `b/${now.path}`,
    oldText,
    newText,
    undefined,
    undefined,
    { context: 3, timeout: DIFF_TIMEOUT_MS },
  );
  if (patch === undefined) return { ...base, additions: 0, deletions: 0, patch: null };
  let additions = 0;
  let deletions = 0;
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) additions++;
      else if (line.startsWith('-')) deletions++;
    }
  }
  return { ...base, additions, deletions, patch: formatPatch(patch) };
}
