import { matchPaths, type PathMatch } from '@tandem/client-sdk';
import type { FileId } from '@tandem/protocol';
import { useMemo, useRef, useState, useEffect } from 'preact/hooks';
import type { EditorStore } from '../editor/editor-store.js';
import { Modal, openDialog } from '../ui/index.js';

/** Most paths the list shows. */
const SHOWN = 50;

/** Quick open: type part of a path, Enter (or a click) opens the file. */
export function openQuickOpen(store: EditorStore): Promise<void> {
  return openDialog<FileId | null>((close) => <QuickOpen store={store} close={close} />).then((id) => {
    if (id !== null) void store.openTab(id);
  });
}

function QuickOpen(props: { store: EditorStore; close: (id: FileId | null) => void }) {
  const { store, close } = props;
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const files = store.tree.value;
  const matches = useMemo(
    () =>
      matchPaths(
        files.map((f) => f.path),
        query,
        SHOWN,
      ),
    [files, query],
  );
  useEffect(() => input.current?.focus(), []);
  const idOf = (match: PathMatch | undefined) =>
    match === undefined ? null : (files.find((f) => f.path === match.path)?.id ?? null);
  return (
    <Modal class="quick-open" onCancel={() => close(null)}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          close(idOf(matches[selected]));
        }}
      >
        <input
          ref={input}
          type="text"
          class="input"
          placeholder="Go to file…"
          aria-label="Go to file"
          value={query}
          onInput={(event) => {
            setQuery(event.currentTarget.value);
            setSelected(0);
          }}
          onKeyDown={(event) => {
            if (event.key === 'ArrowDown') {
              event.preventDefault();
              setSelected((i) => Math.min(i + 1, matches.length - 1));
            } else if (event.key === 'ArrowUp') {
              event.preventDefault();
              setSelected((i) => Math.max(i - 1, 0));
            }
          }}
        />
        <ul class="quick-open-list" role="listbox" aria-label="Matching files">
          {matches.map((match, i) => (
            <li
              key={match.path}
              role="option"
              aria-selected={i === selected}
              class={`quick-open-item${i === selected ? ' selected' : ''}`}
              data-path={match.path}
              onMouseDown={(event) => {
                event.preventDefault();
                close(idOf(match));
              }}
            >
              <Highlighted text={match.path} indexes={match.indexes} />
            </li>
          ))}
          {matches.length === 0 ? <li class="muted">No file matches.</li> : null}
        </ul>
      </form>
    </Modal>
  );
}

/** The path with the matched characters in bold. */
function Highlighted(props: { text: string; indexes: readonly number[] }) {
  const marked = new Set(props.indexes);
  const parts: Array<{ text: string; hit: boolean }> = [];
  for (let i = 0; i < props.text.length; i++) {
    const hit = marked.has(i);
    const last = parts[parts.length - 1];
    if (last !== undefined && last.hit === hit) last.text += props.text[i];
    else parts.push({ text: props.text[i] ?? '', hit });
  }
  return <>{parts.map((part, i) => (part.hit ? <b key={i}>{part.text}</b> : <span key={i}>{part.text}</span>))}</>;
}
