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

/**
 * One file on one side of a diff, as stored: a text file's Yjs updates (or state), its plain text
 * (a stored row), or a binary file's bytes.
 */
export type RawDiffSide = { id: FileId; path: string } & (
  { kind: 'updates'; updates: Uint8Array[] } | { kind: 'text'; content: string } | { kind: 'binary'; bytes: Uint8Array }
);

/** Each list of updates merged into one garbage-collected state and its text, in order (see mergeToState). */
export function merge(files: Uint8Array[][]): Array<{ state: Uint8Array; text: string }> {
  return files.map((updates) => mergeToState(updates));
}

/** The changed files between two stored states of a shard (see diffTrees). */
export function diff(input: { from: RawDiffSide[]; to: RawDiffSide[] }): FileDiff[] {
  return diffTrees(input.from.map(toDiffSide), input.to.map(toDiffSide));
}

function toDiffSide(side: RawDiffSide): DiffSide {
  switch (side.kind) {
    case 'updates':
      return { id: side.id, path: side.path, content: textFromUpdates(side.updates) };
    case 'text':
      return { id: side.id, path: side.path, content: side.content };
    case 'binary':
      return { id: side.id, path: side.path, kind: 'binary', content: binaryDigest(side.bytes) };
  }
}
