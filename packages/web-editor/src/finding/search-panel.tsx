import { signal } from '@preact/signals';
import type { SearchMatch, SearchResult } from '@tandem/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import type { PanelDefinition } from '../panels/panel.js';

export const SEARCH_PANEL_ID = 'search';

/** Most matches one search asks the server for. */
const LIMIT = 500;

/** Bumped to focus the search field (the shortcut). */
export const focusSearch = signal(0);

type State =
  | { kind: 'idle' }
  | { kind: 'searching' }
  | { kind: 'failed'; message: string }
  | { kind: 'done'; query: string; result: SearchResult };

/** Search across every file of the project (the server reads the live text); a click opens the place. */
function SearchPanel() {
  const store = useEditorStore();
  const [query, setQuery] = useState('');
  const [caseSensitive, setCaseSensitive] = useState(false);
  const [state, setState] = useState<State>({ kind: 'idle' });
  const input = useRef<HTMLInputElement>(null);
  const focus = focusSearch.value;
  useEffect(() => {
    if (focus === 0) return undefined;
    // After the panel area has switched to this panel: a hidden field cannot take the focus.
    const frame = requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.select();
    });
    return () => cancelAnimationFrame(frame);
  }, [focus]);

  const run = async () => {
    const q = query.trim() === '' ? '' : query;
    if (q === '') return setState({ kind: 'idle' });
    setState({ kind: 'searching' });
    try {
      const result = await store.rest.searchShard(store.session.shardId, q, { caseSensitive, limit: LIMIT });
      setState({ kind: 'done', query: q, result });
    } catch (error) {
      setState({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  };

  const groups = new Map<string, SearchMatch[]>();
  if (state.kind === 'done') {
    for (const match of state.result.matches) {
      const list = groups.get(match.path) ?? [];
      list.push(match);
      groups.set(match.path, list);
    }
  }

  return (
    <div class="search-panel">
      <form
        class="search-form"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <input
          ref={input}
          type="search"
          class="input"
          placeholder="Search all files"
          aria-label="Search all files"
          value={query}
          maxLength={200}
          onInput={(event) => setQuery(event.currentTarget.value)}
        />
        <label class="search-option">
          <input
            type="checkbox"
            checked={caseSensitive}
            onChange={(event) => setCaseSensitive(event.currentTarget.checked)}
          />
          Match case
        </label>
        <button type="submit" class="button">
          Search
        </button>
      </form>
      {state.kind === 'searching' ? <p class="muted">Searching…</p> : null}
      {state.kind === 'failed' ? <p class="muted">{`Search failed: ${state.message}`}</p> : null}
      {state.kind === 'done' ? (
        <p class="muted search-summary" data-testid="search-summary">
          {state.result.matches.length === 0
            ? `No matches for “${state.query}”.`
            : `${state.result.matches.length}${state.result.truncated ? '+' : ''} matches in ${groups.size} files${
                state.result.truncated ? ` (showing the first ${LIMIT})` : ''
              }`}
        </p>
      ) : null}
      <ul class="search-results">
        {[...groups].map(([path, matches]) => (
          <li key={path} class="search-file" data-path={path}>
            <div class="search-file-name">{path}</div>
            <ul>
              {matches.map((m) => (
                <li key={`${m.line}:${m.column}`}>
                  <button
                    type="button"
                    class="search-match"
                    data-line={m.line}
                    onClick={() => void store.revealAt(m.fileId, m.line, m.column, m.length)}
                  >
                    <span class="search-line">{m.line}</span>
                    <span class="search-preview">
                      {m.preview.slice(0, m.previewColumn - 1)}
                      <mark>{m.preview.slice(m.previewColumn - 1, m.previewColumn - 1 + m.length)}</mark>
                      {m.preview.slice(m.previewColumn - 1 + m.length)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </div>
  );
}

export const searchPanel: PanelDefinition = {
  id: SEARCH_PANEL_ID,
  title: 'Search',
  area: 'side',
  component: SearchPanel,
};
