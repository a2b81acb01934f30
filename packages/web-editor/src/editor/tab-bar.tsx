import { useEditorStore } from './editor-context.js';

/** The open files, the active one marked; a tab's × closes it. */
export function TabBar() {
  const store = useEditorStore();
  const active = store.active.value;
  return (
    <div class="tabs" role="tablist" aria-label="Open files">
      {store.openTabs.value.map((id) => {
        const path = store.pathOf(id);
        const name = path.slice(path.lastIndexOf('/') + 1);
        return (
          <div
            key={id}
            class={`tab${id === active ? ' active' : ''}`}
            role="tab"
            aria-selected={id === active}
            data-path={path}
            title={path}
            onClick={() => void store.openTab(id)}
          >
            <span class="tab-name">{name}</span>
            <button
              type="button"
              class="tab-close"
              aria-label={`Close ${path}`}
              onClick={(event) => {
                event.stopPropagation();
                store.closeTab(id);
              }}
            >
              ×
            </button>
          </div>
        );
      })}
    </div>
  );
}
