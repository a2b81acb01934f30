/**
 * finding — getting to a file or a line: quick open (Ctrl/Cmd+P, fuzzy over file paths, from the
 * tree the session holds) and the search panel (Ctrl/Cmd+Shift+F, across every file through the
 * server's search route, which reads the live state).
 */
export { openQuickOpen } from './quick-open.js';
export { focusSearch, searchPanel, SEARCH_PANEL_ID } from './search-panel.js';
export { useFindingShortcuts } from './shortcuts.js';
