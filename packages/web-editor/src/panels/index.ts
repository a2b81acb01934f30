/** panels — the editor's tabbed panel areas and the list of panels in them. */
export type { PanelArea as PanelAreaName, PanelDefinition } from './panel.js';
export { PanelArea } from './panel-area.js';
export { PANELS } from './registry.js';
