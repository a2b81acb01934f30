import { useEffect, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import type { PanelArea as Area, PanelDefinition } from './panel.js';

/**
 * The panels of one area as tabs (the tab strip names them; the active one shows). Renders
 * nothing when no panel of the area is available for this project.
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
  if (panels.length === 0) return null;
  return (
    <section class={`panel-area panel-area-${props.area}`} data-area={props.area}>
      <div class="pane-header panel-tabs" role="tablist" aria-label={props.area === 'side' ? 'Side panels' : 'Panels'}>
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
