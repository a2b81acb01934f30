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
  useEffect(() => {
    const parent = host.current;
    if (parent === null) return undefined;
    const view = createCodeEditor({
      parent,
      path: doc.path,
      ytext: doc.entry.text,
      undoManager: doc.entry.undo,
      awareness: new FileAwareness(store.session.awareness, doc.fileId),
      readOnly: !store.canWrite,
    });
    const reveal = store.pendingReveal.peek();
    if (reveal !== null && reveal.fileId === doc.fileId) {
      store.pendingReveal.value = null;
      const lines = view.state.doc.lines;
      const line = view.state.doc.line(Math.min(Math.max(1, reveal.line), lines));
      const from = Math.min(line.from + Math.max(0, reveal.column - 1), line.to);
      const to = Math.min(from + reveal.length, line.to);
      view.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true });
    }
    view.focus();
    return () => view.destroy();
  }, [store, doc]);
  return <div class="editor-host" ref={host} />;
}
