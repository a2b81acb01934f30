import { useEffect, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import type { EditorStore } from '../editor/editor-store.js';
import type { PanelDefinition } from '../panels/panel.js';
import { PreviewBuilder } from './preview-builder.js';

/** The project's runtime: from its template, else guessed (an index.html means a browser project). */
function runtimeOf(store: EditorStore): 'static' | 'browser' | 'node' {
  return store.template?.runtime ?? (store.session.fileId('index.html') === undefined ? 'node' : 'browser');
}

/**
 * The live preview in an iframe sandboxed to `allow-scripts` (an opaque origin: the project's
 * code cannot reach the editor's token or cookies); `node` projects get a notice instead.
 */
export function PreviewPanel() {
  const store = useEditorStore();
  const [runtime] = useState(() => runtimeOf(store));
  return runtime === 'node' ? <NodeRuntimeNotice /> : <LivePreview />;
}

function LivePreview() {
  const store = useEditorStore();
  const [builder] = useState(
    () =>
      new PreviewBuilder(
        store.session,
        { entry: store.template?.entry ?? 'index.html', framework: store.template?.framework ?? 'none' },
        store.cdnBaseUrl,
      ),
  );
  useEffect(() => {
    builder.start();
    return () => builder.destroy();
  }, [builder]);
  const problems = builder.problems.value;
  const html = builder.html.value;
  return (
    <div class="preview" aria-label="Preview">
      <div class="panel-toolbar">
        <span class="preview-state">{builder.state.value}</span>
        <button type="button" class="button small" onClick={() => builder.rebuild()} title="Rebuild the preview">
          Reload
        </button>
      </div>
      <div class="preview-problems" hidden={problems.length === 0} role="alert">
        {problems.map((problem, i) => (
          <div key={i} class="problem">
            {problem}
          </div>
        ))}
      </div>
      <iframe
        class="preview-frame"
        sandbox="allow-scripts"
        title="Preview"
        data-builds={String(builder.builds.value)}
        {...(html === null ? {} : { srcdoc: html })}
      />
    </div>
  );
}

/** Shown instead of a preview for `node` templates (Next.js, Node, Angular). */
function NodeRuntimeNotice() {
  const store = useEditorStore();
  return (
    <div class="preview preview-unsupported" aria-label="Preview">
      <div class="notice">
        <h3>This project needs a Node runtime</h3>
        <p>
          {`${store.template?.title ?? 'These'} projects run on Node.js (a dev server and a build step), which the browser preview does not provide. `}
          Download the project and run it locally:
        </p>
        <pre>{'npm install\nnpm run dev'}</pre>
        <button type="button" class="button primary" onClick={() => void store.download()}>
          Download .zip
        </button>
      </div>
    </div>
  );
}

/** The preview as a panel right of the editor. */
export const previewPanel: PanelDefinition = {
  id: 'preview',
  title: 'Preview',
  area: 'side',
  component: PreviewPanel,
};
