import { h } from '../dom.js';
import type { ConsoleLevel, LoggedValue } from './preview-runtime.js';

/** A place in the project a console line can point to (click → the editor's cursor there). */
export type SourcePlace = { file: string; line: number; column: number };

/** One line of the console: a console call, or an error of the preview. */
export type ConsoleEntry = {
  level: ConsoleLevel;
  args: LoggedValue[];
  /** Where it happened in the project, when known (errors). */
  place?: SourcePlace;
};

const MAX_ENTRIES = 500;

/**
 * The preview's console, under the preview: `console.log/info/warn/error/debug` of the project,
 * uncaught errors and unhandled rejections, like a browser's devtools console (objects
 * expandable, an identical line repeated is counted, a Clear button; the panel clears it on
 * reload). At most 500 lines are kept.
 */
export class ConsoleView {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly countBadge: HTMLElement;
  private last: { key: string; row: HTMLElement; count: number } | null = null;
  private errors = 0;

  constructor(private readonly reveal: (place: SourcePlace) => void) {
    this.list = h('div', { class: 'console-lines', role: 'log', 'aria-live': 'polite' });
    this.countBadge = h('span', { class: 'console-errors', hidden: true });
    this.element = h(
      'section',
      { class: 'preview-console', 'aria-label': 'Console' },
      h(
        'div',
        { class: 'pane-header console-header' },
        h('span', { class: 'pane-title' }, 'Console'),
        this.countBadge,
        h(
          'button',
          { type: 'button', class: 'button small', title: 'Clear the console', onclick: () => this.clear() },
          'Clear',
        ),
      ),
      this.list,
    );
  }

  clear(): void {
    this.list.replaceChildren();
    this.last = null;
    this.errors = 0;
    this.renderCount();
  }

  add(entry: ConsoleEntry): void {
    const key = JSON.stringify([entry.level, entry.args, entry.place]);
    if (this.last !== null && this.last.key === key) {
      this.last.count++;
      let badge = this.last.row.querySelector<HTMLElement>('.console-repeat');
      if (badge === null) {
        badge = h('span', { class: 'console-repeat', title: 'Repeated' });
        this.last.row.prepend(badge);
      }
      badge.textContent = String(this.last.count);
      return;
    }
    if (entry.level === 'error') {
      this.errors++;
      this.renderCount();
    }
    const row = h(
      'div',
      { class: `console-line console-${entry.level}`, 'data-level': entry.level },
      ...entry.args.flatMap((arg, i) => [i > 0 ? ' ' : '', renderValue(arg, true)]),
    );
    const place = entry.place;
    if (place !== undefined) {
      row.append(
        h(
          'button',
          {
            type: 'button',
            class: 'console-place',
            title: 'Show in the editor',
            onclick: () => this.reveal(place),
          },
          `${place.file}:${place.line}:${place.column}`,
        ),
      );
    }
    this.list.append(row);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.firstElementChild?.remove();
    this.last = { key, row, count: 1 };
    this.list.scrollTop = this.list.scrollHeight;
  }

  private renderCount(): void {
    this.countBadge.hidden = this.errors === 0;
    this.countBadge.textContent = this.errors === 1 ? '1 error' : `${this.errors} errors`;
  }
}

/** A logged value as the console shows it: strings bare at the top level, objects expandable. */
function renderValue(value: LoggedValue, top: boolean): HTMLElement | string {
  switch (value.t) {
    case 'string':
      return top
        ? h('span', { class: 'console-text' }, value.v)
        : h('span', { class: 'v-string' }, JSON.stringify(value.v));
    case 'number':
    case 'bigint':
      return h('span', { class: 'v-number' }, value.t === 'bigint' ? `${value.v}n` : value.v);
    case 'boolean':
      return h('span', { class: 'v-boolean' }, value.v);
    case 'null':
    case 'undefined':
      return h('span', { class: 'v-empty' }, value.t);
    case 'circular':
      return h('span', { class: 'v-empty' }, '[Circular]');
    case 'symbol':
    case 'function':
    case 'node':
      return h('span', { class: 'v-other' }, value.v);
    case 'error':
      return h('span', { class: 'v-error' }, value.v);
    case 'object':
    case 'array':
      return renderObject(value);
  }
}

function renderObject(value: Extract<LoggedValue, { t: 'object' | 'array' }>): HTMLElement {
  const summary = summarize(value);
  if (value.entries === null || value.entries.length === 0) return h('span', { class: 'v-object' }, summary);
  const details = h('details', { class: 'v-object' }, h('summary', {}, summary));
  // Children are built on first open: a large logged object costs nothing until looked at.
  details.addEventListener(
    'toggle',
    () => {
      if (details.childElementCount > 1) return;
      const rows = (value.entries ?? []).map(([key, child]) =>
        h('div', { class: 'v-entry' }, h('span', { class: 'v-key' }, `${key}: `), renderValue(child, false)),
      );
      if (value.more > 0) rows.push(h('div', { class: 'v-entry v-empty' }, `… ${value.more} more`));
      details.append(...rows);
    },
    { once: false },
  );
  return details;
}

/** `{a: 1, b: "x"}` / `Array(3) [1, 2, 3]`, cut short. */
function summarize(value: Extract<LoggedValue, { t: 'object' | 'array' }>): string {
  if (value.entries === null) return value.t === 'array' ? `${value.name}(…)` : `${value.name} {…}`;
  const short = (v: LoggedValue): string => {
    switch (v.t) {
      case 'string':
        return JSON.stringify(v.v.length > 30 ? `${v.v.slice(0, 30)}…` : v.v);
      case 'object':
        return v.name === 'Object' ? '{…}' : `${v.name}`;
      case 'array':
        return `Array(${(v.entries?.length ?? 0) + v.more})`;
      case 'null':
      case 'undefined':
      case 'circular':
        return v.t;
      default:
        return v.v.split('\n')[0] ?? '';
    }
  };
  const total = value.entries.length + value.more;
  const parts = value.entries.slice(0, 6).map(([k, v]) => (value.t === 'array' ? short(v) : `${k}: ${short(v)}`));
  const rest = total > 6 ? ', …' : '';
  if (value.t === 'array')
    return `${value.name === 'Array' ? '' : `${value.name} `}(${total}) [${parts.join(', ')}${rest}]`;
  return `${value.name === 'Object' ? '' : `${value.name} `}{${parts.join(', ')}${rest}}`;
}
