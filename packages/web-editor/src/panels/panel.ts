import type { ComponentType } from 'preact';
import type { EditorStore } from '../editor/editor-store.js';

/** Where a panel lives: the column right of the editor, or the strip below it. */
export type PanelArea = 'side' | 'bottom';

/**
 * A panel of the editor (preview, console, search…): a component plus where it goes. Panels
 * read the project through `useEditorStore()`. Register one in `panels/registry.ts`.
 */
export type PanelDefinition = {
  /** Stable id, used in `data-panel` attributes (tests find a panel by it). */
  id: string;
  /** The tab's label. */
  title: string;
  area: PanelArea;
  /** Whether this project shows the panel at all (default: always). Read once, when the page opens. */
  isAvailable?: (store: EditorStore) => boolean;
  /** The panel's content; mounted while the project is open (hidden, not unmounted, behind another tab). */
  component: ComponentType;
};
