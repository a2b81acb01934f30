import { useEffect, useRef, useState } from 'preact/hooks';
import { MergeView } from '@codemirror/merge';
import { basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import type { CheckpointSummary } from '@tandem/protocol';
import { useEditorStore } from '../editor/editor-context.js';
import { languageFor } from '../editor/code-mirror-setup.js';
import type { PanelDefinition } from '../panels/panel.js';
import { checkpointTitle, HistoryModel, type Comparison, type HistoryFile } from './history-model.js';

/**
 * Version history: a timeline of checkpoints (who, when, what); selecting one lists its files
 * with how each differs from now, and shows a file side by side (then | now) in CodeMirror's
 * merge view. Writers can restore a file or the whole project, and name the current version.
 */
function HistoryPanel() {
  const store = useEditorStore();
  const [model] = useState(() => new HistoryModel(store));
  useEffect(() => {
    model.start();
    return () => model.dispose();
  }, [model]);
  const selected = model.selected.value;
  return (
    <div class="history" aria-label="History" aria-busy={model.busy.value}>
      <div class="panel-toolbar">
        <button type="button" class="button small" data-action="history-refresh" onClick={() => void model.refresh()}>
          Refresh
        </button>
        {model.canWrite && (
          <button
            type="button"
            class="button small primary"
            data-action="name-version"
            onClick={() => void model.nameVersion()}
          >
            Name this version
          </button>
        )}
      </div>
      {model.error.value !== null && (
        <div class="history-error" role="alert">
          {model.error.value}
        </div>
      )}
      <ol class="history-timeline" aria-label="Versions">
        {model.checkpoints.value.map((cp) => (
          <TimelineItem
            key={cp.seq}
            cp={cp}
            active={selected?.seq === cp.seq}
            onSelect={() => void model.select(cp.seq)}
          />
        ))}
      </ol>
      {model.nextBefore.value !== null && (
        <button type="button" class="button small" data-action="history-more" onClick={() => void model.loadMore()}>
          Older versions
        </button>
      )}
      {selected !== null && (
        <section class="history-detail" data-seq={selected.seq} aria-label={`Version ${selected.seq}`}>
          <div class="panel-toolbar">
            <strong>{checkpointTitle(selected)}</strong>
            {model.canWrite && (
              <button
                type="button"
                class="button small"
                data-action="restore-project"
                onClick={() => void model.restoreAll()}
              >
                Restore whole project
              </button>
            )}
          </div>
          <ul class="history-files" aria-label="Files in this version">
            {model.files.value.map((file) => (
              <FileRow
                key={`${file.inCheckpoint ? 'then' : 'now'}:${file.path}`}
                file={file}
                active={model.comparison.value?.path === file.path}
                onShow={() => void model.showFile(file)}
              />
            ))}
          </ul>
          {model.comparison.value !== null && (
            <Comparison
              comparison={model.comparison.value}
              canRestore={
                model.canWrite &&
                (model.files.value.find((f) => f.path === model.comparison.value?.path)?.inCheckpoint ?? false)
              }
              onRestore={() => {
                const file = model.files.value.find((f) => f.path === model.comparison.value?.path);
                if (file !== undefined) void model.restoreFile(file);
              }}
            />
          )}
        </section>
      )}
    </div>
  );
}

function TimelineItem(props: { cp: CheckpointSummary; active: boolean; onSelect: () => void }) {
  const { cp } = props;
  const authors = cp.authors.map((a) => a.name).join(', ');
  return (
    <li class={`history-item${props.active ? ' active' : ''}`} data-seq={cp.seq} data-reason={cp.reason}>
      <button type="button" onClick={props.onSelect} aria-pressed={props.active}>
        <span class="history-title">{checkpointTitle(cp)}</span>
        <span class="history-meta">
          <time dateTime={cp.createdAt}>{new Date(cp.createdAt).toLocaleString()}</time>
          {authors !== '' && <span class="history-authors"> · {authors}</span>}
          <span class="history-changed">
            {' '}
            · {cp.filesChanged} {cp.filesChanged === 1 ? 'file' : 'files'}
          </span>
        </span>
      </button>
    </li>
  );
}

const STATUS_LABEL: Record<HistoryFile['status'], string> = {
  unchanged: '',
  modified: 'changed since',
  renamed: 'moved since',
  removed: 'deleted since',
  added: 'added since',
};

function FileRow(props: { file: HistoryFile; active: boolean; onShow: () => void }) {
  const { file } = props;
  return (
    <li class={`history-file${props.active ? ' active' : ''}`} data-path={file.path} data-status={file.status}>
      <button type="button" onClick={props.onShow}>
        <span class="history-file-path">{file.path}</span>
        {file.status !== 'unchanged' && (
          <span class="history-file-status">
            {STATUS_LABEL[file.status]}
            {file.status === 'renamed' && file.pathNow !== null ? ` → ${file.pathNow}` : ''}
          </span>
        )}
      </button>
    </li>
  );
}

function Comparison(props: { comparison: Comparison; canRestore: boolean; onRestore: () => void }) {
  const { comparison } = props;
  return (
    <div class="history-compare" data-path={comparison.path}>
      <div class="panel-toolbar">
        <span class="history-compare-sides">
          Then:{' '}
          {comparison.before === null && comparison.binary?.inCheckpoint !== true
            ? '(not in this version)'
            : comparison.path}{' '}
          · Now: {comparison.pathNow ?? '(deleted)'}
        </span>
        {props.canRestore && (
          <button type="button" class="button small" data-action="restore-file" onClick={props.onRestore}>
            Restore this file
          </button>
        )}
      </div>
      {comparison.binary === undefined ? (
        <MergeViewHost
          path={comparison.pathNow ?? comparison.path}
          before={comparison.before ?? ''}
          now={comparison.now ?? ''}
        />
      ) : (
        <p class="history-binary" data-binary-changed={String(comparison.binary.changed)}>
          Binary file: its bytes are not shown side by side.{' '}
          {comparison.binary.changed ? 'They differ from now.' : 'They are the same as now.'}
          {comparison.binary.inCheckpoint && props.canRestore ? ' Restoring it brings back its bytes.' : ''}
        </p>
      )}
    </div>
  );
}

/** CodeMirror's merge view (then | now), read-only; it owns its views: created on mount, destroyed on unmount. */
function MergeViewHost(props: { path: string; before: string; now: string }) {
  const host = useRef<HTMLDivElement>(null);
  const { path, before, now } = props;
  useEffect(() => {
    const parent = host.current;
    if (parent === null) return undefined;
    const extensions = [basicSetup, languageFor(path), EditorState.readOnly.of(true), EditorView.editable.of(false)];
    const view = new MergeView({
      a: {
        doc: before,
        extensions: [...extensions, EditorView.contentAttributes.of({ 'aria-label': `${path} then` })],
      },
      b: { doc: now, extensions: [...extensions, EditorView.contentAttributes.of({ 'aria-label': `${path} now` })] },
      parent,
      collapseUnchanged: { margin: 3, minSize: 6 },
      gutter: true,
    });
    return () => view.destroy();
  }, [path, before, now]);
  return <div class="history-merge" ref={host} />;
}

export const historyPanel: PanelDefinition = {
  id: 'history',
  title: 'History',
  area: 'side',
  component: HistoryPanel,
};
