import { useEffect } from 'preact/hooks';
import { focusSearch, openQuickOpen, SEARCH_PANEL_ID, useFindingShortcuts } from '../finding/index.js';
import { PanelArea, PANELS } from '../panels/index.js';
import { BinaryView } from './binary-view.js';
import { CodeEditor } from './code-editor.js';
import { useEditorStore } from './editor-context.js';
import { FileTree } from './file-tree.js';
import { FileIcon, SearchIcon } from './icons.js';
import { NoticeBoard } from './notice-board.js';
import { TabBar } from './tab-bar.js';
import { TopBar } from './top-bar.js';

/**
 * The editor's shell: the top bar; then the file tree, the editor (tabs, banners, CodeMirror)
 * with the bottom panel area under it, and the side panel area.
 */
export function Workspace() {
  // Files dropped anywhere but the file tree would make the browser open them in place of the
  // editor: refuse such drops (the tree takes them and uploads them).
  useEffect(() => {
    const refuse = (event: DragEvent) => {
      if (event.dataTransfer?.types.includes('Files') === true) event.preventDefault();
    };
    addEventListener('dragover', refuse);
    addEventListener('drop', refuse);
    return () => {
      removeEventListener('dragover', refuse);
      removeEventListener('drop', refuse);
    };
  }, []);
  const store = useEditorStore();
  useFindingShortcuts(store);
  if (store.deleted.value) return <ProjectDeleted name={store.shardName.value} />;
  return (
    <div class="editor-page">
      <TopBar />
      <div class="workspace">
        <Sidebar />
        <div class="editor-column">
          <section class="editor-area">
            <TabBar />
            <NoticeBoard />
            <EditorPane />
          </section>
          <PanelArea area="bottom" panels={PANELS} />
        </div>
        <PanelArea area="side" panels={PANELS} />
      </div>
    </div>
  );
}

/** The project was deleted while open (by its owner or an admin): say so, and offer the way home. */
function ProjectDeleted(props: { name: string }) {
  return (
    <div class="page-message" role="alert" data-testid="project-deleted">
      <h1>This project was deleted</h1>
      <p>{`${props.name} was deleted by its owner. Changes not yet saved are gone with it.`}</p>
      <p>
        <a href="/" class="button">
          Back to projects
        </a>
      </p>
    </div>
  );
}

function Sidebar() {
  const store = useEditorStore();
  return (
    <aside class="sidebar">
      <div class="pane-header">
        <span class="pane-title">Files</span>
        <span class="pane-actions">
          <button
            type="button"
            class="icon-button"
            data-action="quick-open"
            title="Go to file (Ctrl+P)"
            aria-label="Go to file"
            onClick={() => void openQuickOpen(store)}
          >
            <FileIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            data-action="search"
            title="Search all files (Ctrl+Shift+F)"
            aria-label="Search all files"
            onClick={() => {
              store.showPanel(SEARCH_PANEL_ID);
              focusSearch.value++;
            }}
          >
            <SearchIcon />
          </button>
          {store.canWrite ? (
            <>
              <button
                type="button"
                class="icon-button"
                data-action="new-file"
                title="New file"
                aria-label="New file"
                onClick={() => void store.createFile('')}
              >
                +
              </button>
              <button
                type="button"
                class="icon-button"
                data-action="new-folder"
                title="New folder"
                aria-label="New folder"
                onClick={() => void store.createFolder()}
              >
                ⊞
              </button>
            </>
          ) : null}
        </span>
      </div>
      <FileTree />
    </aside>
  );
}

function EditorPane() {
  const store = useEditorStore();
  const doc = store.activeDocument.value;
  if (doc !== null) return <CodeEditor key={doc.key} document={doc} />;
  const binary = store.activeBinary.value;
  if (binary !== null) return <BinaryView key={binary.key} file={binary} />;
  return (
    <div class="editor-host">
      {store.active.value === null && store.openTabs.value.length === 0 ? (
        <div class="empty-editor">Open a file from the tree.</div>
      ) : null}
    </div>
  );
}
