/** dependencies — the Dependencies panel: package.json's dependency maps, edited through its shared document. */
export { dependenciesPanel } from './dependencies-panel.js';
