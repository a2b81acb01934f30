import { useEffect } from 'preact/hooks';
import type { EditorStore } from '../editor/editor-store.js';
import { openQuickOpen } from './quick-open.js';
import { focusSearch, SEARCH_PANEL_ID } from './search-panel.js';

/**
 * Ctrl/Cmd+P opens quick open; Ctrl/Cmd+Shift+F shows the search panel and focuses its field.
 * Taken before the browser's own (print, find) and CodeMirror's, on the capture phase.
 */
export function useFindingShortcuts(store: EditorStore): void {
  useEffect(() => {
    let quickOpen = false;
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const key = event.key.toLowerCase();
      if (key === 'p' && !event.shiftKey) {
        event.preventDefault();
        event.stopPropagation();
        if (quickOpen) return;
        quickOpen = true;
        void openQuickOpen(store).finally(() => {
          quickOpen = false;
        });
      } else if (key === 'f' && event.shiftKey) {
        event.preventDefault();
        event.stopPropagation();
        store.showPanel(SEARCH_PANEL_ID);
        focusSearch.value++;
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [store]);
}
