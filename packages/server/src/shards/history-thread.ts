/**
 * The entry of the history worker threads (HistoryThreads): the CPU work of the API process that
 * grows with a shard's size or backlog — merging Yjs updates into states (a flush before a named
 * version or a restore, a before-delete checkpoint), decoding states into text and diffing texts —
 * done away from the event loop. Pure functions of their input: no
 * Redis, no database, no server singletons.
 */
import type { FileDiff, FileId } from '@tandem/protocol';
import { mergeToState, textFromUpdates } from '../shard-cache/index.js';
import { binaryDigest, diffTrees, type DiffSide } from './history-diff.js';
import { unpackUpdateLists, type PackedUpdateLists } from './update-lists.js';

/**
 * One file on one side of a diff, as stored: a text file's Yjs updates (or state), its plain text
 * (a stored row), or a binary file's bytes.
 */
export type RawDiffSide = { id: FileId; path: string } & (
  { kind: 'updates'; updates: Uint8Array[] } | { kind: 'text'; content: string } | { kind: 'binary'; bytes: Uint8Array }
);

/**
 * A RawDiffSide as posted to the thread: a text file's updates are list `list` of the task's
 * packed lists (see update-lists.ts).
 */
export type PostedDiffSide =
  Exclude<RawDiffSide, { kind: 'updates' }> | { id: FileId; path: string; kind: 'packed'; list: number };

/** Each list of updates merged into one garbage-collected state and its text, in order (see mergeToState). */
export function merge(files: PackedUpdateLists): Array<{ state: Uint8Array; text: string }> {
  return unpackUpdateLists(files).map((updates) => mergeToState(updates));
}

/** The changed files between two stored states of a shard (see diffTrees). */
export function diff(input: { from: PostedDiffSide[]; to: PostedDiffSide[]; lists: PackedUpdateLists }): FileDiff[] {
  const lists = unpackUpdateLists(input.lists);
  const side = (s: PostedDiffSide) => toDiffSide(s, lists);
  return diffTrees(input.from.map(side), input.to.map(side));
}

function toDiffSide(side: PostedDiffSide, lists: Uint8Array[][]): DiffSide {
  switch (side.kind) {
    case 'packed':
      return { id: side.id, path: side.path, content: textFromUpdates(lists[side.list] ?? []) };
    case 'text':
      return { id: side.id, path: side.path, content: side.content };
    case 'binary':
      return { id: side.id, path: side.path, kind: 'binary', content: binaryDigest(side.bytes) };
  }
}
