import type { EditorView } from '@codemirror/view';
import { useEffect, useRef } from 'preact/hooks';
import type { ActiveDocument } from './editor-store.js';
import { useEditorStore } from './editor-context.js';
import { createCodeEditor, FileAwareness } from './code-mirror-setup.js';

/**
 * The CodeMirror 6 view of one document. It owns the EditorView: created on mount, destroyed on
 * unmount. Give it a new `key` to bind another document (another file, a renamed or reset one).
 */
export function CodeEditor(props: { document: ActiveDocument }) {
  const store = useEditorStore();
  const host = useRef<HTMLDivElement>(null);
  const { document: doc } = props;
  const view = useRef<EditorView | null>(null);
  useEffect(() => {
    const parent = host.current;
    if (parent === null) return undefined;
    const editor = createCodeEditor({
      parent,
      path: doc.path,
      ytext: doc.entry.text,
      undoManager: doc.entry.undo,
      awareness: new FileAwareness(store.session.awareness, doc.fileId),
      readOnly: !store.canWrite,
    });
    editor.focus();
    view.current = editor;
    return () => {
      view.current = null;
      editor.destroy();
    };
  }, [store, doc]);
  // A requested place in this document (a click on an error): the cursor goes there.
  const reveal = store.reveal.value;
  useEffect(() => {
    const editor = view.current;
    if (editor === null || reveal === null || reveal.fileId !== doc.fileId) return;
    // Each request once: a later view of the same file (a tab switched back to) keeps its own cursor.
    if (store.revealApplied === reveal.seq) return;
    store.revealApplied = reveal.seq;
    const text = editor.state.doc;
    const line = text.line(Math.min(Math.max(1, reveal.line), text.lines));
    const anchor = line.from + Math.min(Math.max(0, reveal.column - 1), line.length);
    const head = Math.min(anchor + Math.max(0, reveal.length), line.to);
    editor.dispatch({ selection: { anchor, head }, scrollIntoView: true });
    editor.focus();
  }, [store, reveal, doc]);
  return <div class="editor-host" ref={host} />;
}
