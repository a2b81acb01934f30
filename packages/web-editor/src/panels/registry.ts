import { dependenciesPanel } from '../dependencies/index.js';
import { historyPanel } from '../history/index.js';
import { searchPanel } from '../finding/index.js';
import { previewPanel } from '../preview/index.js';
import type { PanelDefinition } from './panel.js';

/** Every panel of the editor, in tab order within its area. Adding a panel is one line here. */
export const PANELS: readonly PanelDefinition[] = [previewPanel, searchPanel, dependenciesPanel, historyPanel];
