import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { FileDiff } from '@tandem/protocol';
import type { PostedDiffSide, RawDiffSide } from './history-thread.js';
import { packUpdateLists, transferListOf } from './update-lists.js';

/** The CPU work of history and flushes in the API process, in worker threads (see history-thread.ts). */
export interface HistoryThreads {
  /** Each list of Yjs updates merged into one garbage-collected state and its text, in order. */
  merge(files: Uint8Array[][]): Promise<Array<{ state: Uint8Array; text: string }>>;
  /** The changed files between two states of a shard, `from` older, `to` newer. */
  diff(from: RawDiffSide[], to: RawDiffSide[]): Promise<FileDiff[]>;
  /** Waits for running tasks, then ends the threads. Idempotent. */
  close(): Promise<void>;
}

/**
 * The thread entry next to this module: `history-thread.js` in the built output, or, when the
 * server runs from source, `history-thread.source.mjs`, which loads the .ts through tsx.
 */
function threadFile(): { filename: string; execArgv: string[] | undefined } {
  const js = fileURLToPath(new URL('./history-thread.js', import.meta.url));
  if (existsSync(js)) return { filename: js, execArgv: undefined };
  const source = fileURLToPath(new URL('./history-thread.source.mjs', import.meta.url));
  return { filename: source, execArgv: ['--conditions=source'] };
}

/**
 * A small pool (piscina): two threads at most, started on first use and ended after a minute
 * idle. The work is occasional (a diff, a flush before a named version or a restore, a delete of a
 * backlogged shard's files) and bounded per request; two threads let one long diff not hold up a
 * delete's acknowledgement.
 */
export function createHistoryThreads(): HistoryThreads {
  const { filename, execArgv } = threadFile();
  const pool = new Piscina({
    filename,
    minThreads: 0,
    maxThreads: 2,
    idleTimeout: 60_000,
    ...(execArgv === undefined ? {} : { execArgv }),
  });
  let closing: Promise<void> | undefined;
  return {
    // Updates go packed and transferred (update-lists.ts): cloning them one by one blocked the event loop.
    merge: (files) => {
      const packed = packUpdateLists(files);
      return pool.run(packed, { name: 'merge', transferList: transferListOf(packed) }) as Promise<
        Array<{ state: Uint8Array; text: string }>
      >;
    },
    diff: (from, to) => {
      const lists: Uint8Array[][] = [];
      const post = (side: RawDiffSide): PostedDiffSide => {
        if (side.kind !== 'updates') return side;
        lists.push(side.updates);
        return { id: side.id, path: side.path, kind: 'packed', list: lists.length - 1 };
      };
      const task = { from: from.map(post), to: to.map(post), lists: packUpdateLists(lists) };
      return pool.run(task, { name: 'diff', transferList: transferListOf(task.lists) }) as Promise<FileDiff[]>;
    },
    close() {
      closing ??= pool.close();
      return closing;
    },
  };
}
