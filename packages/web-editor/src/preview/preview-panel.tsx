import { useEffect, useRef, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import type { EditorStore } from '../editor/editor-store.js';
import type { PanelDefinition } from '../panels/panel.js';
import type { SourcePlace } from './console-log.js';
import { ConsoleView } from './console-view.js';
import { PreviewBuilder, type OverlayError } from './preview-builder.js';

/** The project's runtime: from its template, else guessed (an index.html means a browser project). */
function runtimeOf(store: EditorStore): 'static' | 'browser' | 'node' {
  return store.template?.runtime ?? (store.session.fileId('index.html') === undefined ? 'node' : 'browser');
}

/**
 * The live preview, on its own origin (project code cannot reach the editor's token, storage or
 * DOM), with its console under it and one error overlay over it; the `node` project (a server)
 * gets a notice instead.
 */
export function PreviewPanel() {
  const store = useEditorStore();
  const [runtime] = useState(() => runtimeOf(store));
  return runtime === 'node' ? <NodeRuntimeNotice /> : <LivePreview />;
}

function LivePreview() {
  const store = useEditorStore();
  const frame = useRef<HTMLIFrameElement>(null);
  const [builder] = useState(
    () =>
      new PreviewBuilder(
        store.session,
        { entry: store.template?.entry ?? 'index.html', framework: store.template?.framework ?? 'none' },
        { cdnBaseUrl: store.cdnBaseUrl, previewOrigin: store.previewOrigin },
        (path) => store.rest.readBinaryFile(store.session.shardId, path),
      ),
  );
  useEffect(() => {
    if (frame.current === null) return undefined;
    builder.start(frame.current);
    return () => builder.destroy();
  }, [builder]);
  const reveal = (place: SourcePlace) => void store.revealPlace(place.file, place.line, place.column);
  const warnings = builder.warnings.value;
  const errors = builder.errors.value;
  const notice = builder.notice.value;
  return (
    <div class="preview" aria-label="Preview">
      <div class="panel-toolbar">
        <span class="preview-state">{builder.state.value}</span>
        <button type="button" class="button small" onClick={() => builder.rebuild()} title="Rebuild the preview">
          Reload
        </button>
      </div>
      <div class="preview-problems" hidden={warnings.length === 0} role="status">
        {warnings.map((problem) => (
          <div key={problem.message} class="problem">
            {problem.message}
          </div>
        ))}
      </div>
      <div class="preview-notice" hidden={notice === null} role="alert">
        <span>{notice}</span>
        <button type="button" class="button small" onClick={() => builder.rebuild()}>
          Retry
        </button>
      </div>
      <div class="preview-stage">
        <iframe
          ref={frame}
          class="preview-frame"
          // Its own origin: same-origin here means the preview origin, never the editor's.
          sandbox="allow-scripts allow-same-origin allow-forms allow-modals allow-popups allow-downloads"
          title="Preview"
          data-builds={String(builder.builds.value)}
        />
        <ErrorOverlay
          build={errors.build}
          errors={errors.list}
          reveal={reveal}
          dismiss={() => builder.dismissErrors()}
        />
      </div>
      <ConsoleView log={builder.console} reveal={reveal} />
    </div>
  );
}

/** One overlay over the preview: the build's errors, or the page's, each with its place and code frame. */
function ErrorOverlay(props: {
  build: boolean;
  errors: OverlayError[];
  reveal: (place: SourcePlace) => void;
  dismiss: () => void;
}) {
  const { build, errors, reveal, dismiss } = props;
  return (
    <div class="preview-overlay" hidden={errors.length === 0} role="alert">
      <div class="overlay-header">
        <strong>{build ? 'Failed to build' : 'Error in the preview'}</strong>
        {build ? null : (
          <button type="button" class="button small" title="Hide (the console keeps the errors)" onClick={dismiss}>
            Dismiss
          </button>
        )}
      </div>
      {errors.map((error) => {
        const place = error.place;
        return (
          <div key={`${error.message}@${place?.file ?? ''}:${place?.line ?? 0}`} class="overlay-error">
            <div class="overlay-message">{error.message}</div>
            {place === undefined ? null : (
              <button type="button" class="overlay-place" title="Show in the editor" onClick={() => reveal(place)}>
                {`${place.file}:${place.line}:${place.column}`}
              </button>
            )}
            {error.frame === undefined ? null : <pre class="overlay-frame">{error.frame}</pre>}
          </div>
        );
      })}
    </div>
  );
}

/** Shown instead of a preview for `node` templates (the Node template: a server). */
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
