import { useEffect, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import type { PanelArea as Area, PanelDefinition } from './panel.js';

/**
 * The panels of one area as tabs (the tab strip names them; the active one shows). Renders
 * nothing when no panel of the area is available for this project. Below 900 px the side area
 * is a drawer over the editor, shown while `store.sidePanelsOpen` is true, with a close button
 * (and Escape).
 */
export function PanelArea(props: { area: Area; panels: readonly PanelDefinition[] }) {
  const store = useEditorStore();
  const [panels] = useState(() =>
    props.panels.filter((panel) => panel.area === props.area && (panel.isAvailable?.(store) ?? true)),
  );
  const [activeId, setActiveId] = useState(panels[0]?.id);
  const request = store.panelRequest.value;
  useEffect(() => {
    if (request !== null && panels.some((panel) => panel.id === request.id)) setActiveId(request.id);
  }, [request, panels]);
  const side = props.area === 'side';
  const open = side && store.sidePanelsOpen.value;
  useEffect(() => {
    if (!open) return undefined;
    const onKey = (event: KeyboardEvent) => {
      // A dialog (quick open) takes its own Escape first.
      if (event.key === 'Escape' && document.querySelector('dialog[open]') === null) store.sidePanelsOpen.value = false;
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, store]);
  if (panels.length === 0) return null;
  return (
    <section class={`panel-area panel-area-${props.area}${open ? ' drawer-open' : ''}`} data-area={props.area}>
      <div class="pane-header panel-tabs" role="tablist" aria-label={side ? 'Side panels' : 'Panels'}>
        {panels.map((panel) => (
          <button
            key={panel.id}
            type="button"
            role="tab"
            class={`panel-tab${panel.id === activeId ? ' active' : ''}`}
            aria-selected={panel.id === activeId}
            data-panel={panel.id}
            onClick={() => setActiveId(panel.id)}
          >
            {panel.title}
          </button>
        ))}
        {side ? (
          <button
            type="button"
            class="icon-button drawer-close"
            data-action="close-panels"
            title="Close the panels (Escape)"
            aria-label="Close the panels"
            onClick={() => {
              store.sidePanelsOpen.value = false;
            }}
          >
            ✕
          </button>
        ) : null}
      </div>
      {panels.map((panel) => (
        <div
          key={panel.id}
          class="panel-body"
          role="tabpanel"
          aria-label={panel.title}
          data-panel={panel.id}
          hidden={panel.id !== activeId}
        >
          <panel.component />
        </div>
      ))}
    </section>
  );
}
