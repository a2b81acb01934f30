/** history — the History panel: the timeline of checkpoints, side-by-side diffs and restores. */
export { historyPanel } from './history-panel.js';
