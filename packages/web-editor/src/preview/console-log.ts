import { signal } from '@preact/signals';
import type { ConsoleLevel, LoggedValue } from './preview-runtime.js';

/** A place in the project a line can point to (a click puts the editor's cursor there). */
export type SourcePlace = { file: string; line: number; column: number };

/** One line of the console: a console call, or an error of the preview. */
export type ConsoleEntry = {
  level: ConsoleLevel;
  args: LoggedValue[];
  /** Where it happened in the project, when known (errors). */
  place?: SourcePlace;
};

/** A line as shown: the entry, how many times in a row it came, and a stable id. */
export type ConsoleLine = { id: number; key: string; entry: ConsoleEntry; count: number };

const MAX_LINES = 500;

/**
 * The preview's console as state: lines in order, an identical line repeated in a row counted
 * instead of added, at most 500 kept, and the number of errors. The panel clears it on reload.
 */
export class ConsoleLog {
  readonly lines = signal<ConsoleLine[]>([]);
  readonly errors = signal(0);
  private nextId = 0;

  clear(): void {
    this.lines.value = [];
    this.errors.value = 0;
  }

  add(entry: ConsoleEntry): void {
    const key = JSON.stringify([entry.level, entry.args, entry.place]);
    const lines = this.lines.value;
    const last = lines[lines.length - 1];
    if (last !== undefined && last.key === key) {
      this.lines.value = [...lines.slice(0, -1), { ...last, count: last.count + 1 }];
      return;
    }
    if (entry.level === 'error') this.errors.value++;
    const next = [...lines, { id: this.nextId++, key, entry, count: 1 }];
    this.lines.value = next.length > MAX_LINES ? next.slice(next.length - MAX_LINES) : next;
  }
}
