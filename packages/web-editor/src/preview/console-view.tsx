import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleLog, SourcePlace } from './console-log.js';
import type { LoggedValue } from './preview-runtime.js';

/**
 * The preview's console, under the preview, like a browser's devtools console: the project's
 * `console.log/info/warn/error/debug`, uncaught errors and unhandled rejections; objects expand,
 * repeated lines show a count, Clear empties it, an error's place is a link into the editor.
 */
export function ConsoleView(props: { log: ConsoleLog; reveal: (place: SourcePlace) => void }) {
  const { log, reveal } = props;
  const lines = log.lines.value;
  const errors = log.errors.value;
  const list = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = list.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <section class="preview-console" aria-label="Console">
      <div class="panel-toolbar console-header">
        <span class="pane-title">Console</span>
        <span class="console-errors" hidden={errors === 0}>
          {errors === 1 ? '1 error' : `${errors} errors`}
        </span>
        <button type="button" class="button small" title="Clear the console" onClick={() => log.clear()}>
          Clear
        </button>
      </div>
      <div class="console-lines" role="log" aria-live="polite" ref={list}>
        {lines.map(({ id, entry, count }) => {
          const place = entry.place;
          return (
            <div key={id} class={`console-line console-${entry.level}`} data-level={entry.level}>
              {count > 1 ? (
                <span class="console-repeat" title="Repeated">
                  {count}
                </span>
              ) : null}
              {entry.args.map((arg, i) => (
                <Value key={i} value={arg} top />
              ))}
              {place === undefined ? null : (
                <button type="button" class="console-place" title="Show in the editor" onClick={() => reveal(place)}>
                  {`${place.file}:${place.line}:${place.column}`}
                </button>
              )}
            </div>
          );
        })}
      </div>
    </section>
  );
}

/** A logged value: strings bare at the top level, objects expandable (children built when opened). */
function Value(props: { value: LoggedValue; top?: boolean }) {
  const { value } = props;
  switch (value.t) {
    case 'string':
      return props.top === true ? (
        <span class="console-text">{value.v}</span>
      ) : (
        <span class="v-string">{JSON.stringify(value.v)}</span>
      );
    case 'number':
    case 'bigint':
      return <span class="v-number">{value.t === 'bigint' ? `${value.v}n` : value.v}</span>;
    case 'boolean':
      return <span class="v-boolean">{value.v}</span>;
    case 'null':
    case 'undefined':
      return <span class="v-empty">{value.t}</span>;
    case 'circular':
      return <span class="v-empty">[Circular]</span>;
    case 'symbol':
    case 'function':
    case 'node':
      return <span class="v-other">{value.v}</span>;
    case 'error':
      return <span class="v-error">{value.v}</span>;
    case 'object':
    case 'array':
      return <ObjectValue value={value} />;
  }
}

function ObjectValue(props: { value: Extract<LoggedValue, { t: 'object' | 'array' }> }) {
  const { value } = props;
  const [open, setOpen] = useState(false);
  const summary = summarize(value);
  if (value.entries === null || value.entries.length === 0) return <span class="v-object">{summary}</span>;
  return (
    <details class="v-object" onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
      <summary>{summary}</summary>
      {open
        ? value.entries.map(([key, child]) => (
            <div key={key} class="v-entry">
              <span class="v-key">{`${key}: `}</span>
              <Value value={child} />
            </div>
          ))
        : null}
      {open && value.more > 0 ? <div class="v-entry v-empty">{`… ${value.more} more`}</div> : null}
    </details>
  );
}

/** `{a: 1, b: "x"}` / `(3) [1, 2, 3]`, cut short. */
function summarize(value: Extract<LoggedValue, { t: 'object' | 'array' }>): string {
  if (value.entries === null) return value.t === 'array' ? `${value.name}(…)` : `${value.name} {…}`;
  const short = (v: LoggedValue): string => {
    switch (v.t) {
      case 'string':
        return JSON.stringify(v.v.length > 30 ? `${v.v.slice(0, 30)}…` : v.v);
      case 'object':
        return v.name === 'Object' ? '{…}' : v.name;
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
