import { basicSetup, EditorView } from 'codemirror';
import { EditorState, Prec, type Extension } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { javascript } from '@codemirror/lang-javascript';
import { html } from '@codemirror/lang-html';
import { css } from '@codemirror/lang-css';
import { json } from '@codemirror/lang-json';
import { markdown } from '@codemirror/lang-markdown';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { renderableState } from './presence-style.js';

/** Syntax highlighting by file extension (plain text for anything else). */
export function languageFor(path: string): Extension {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  switch (ext) {
    case 'js':
    case 'mjs':
    case 'cjs':
      return javascript();
    case 'jsx':
      return javascript({ jsx: true });
    case 'ts':
    case 'mts':
    case 'cts':
      return javascript({ typescript: true });
    case 'tsx':
      return javascript({ jsx: true, typescript: true });
    case 'html':
    case 'htm':
    case 'vue':
    case 'svelte':
      return html();
    case 'css':
      return css();
    case 'json':
      return json();
    case 'md':
    case 'markdown':
      return markdown();
    default:
      return [];
  }
}

type AwarenessState = Record<string, unknown>;
type ChangeListener = (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void;

/**
 * The shard's one Awareness seen from one file: y-codemirror.next draws every remote `cursor`
 * it finds, but a cursor is a Yjs relative position, and one at the end of a text names only
 * the root type ("content"), which every file's document has. So each editor sees only the
 * states of people whose `fileId` is this file.
 */
export class FileAwareness {
  constructor(
    private readonly awareness: Awareness,
    private readonly fileId: string,
  ) {}

  get doc(): Y.Doc {
    return this.awareness.doc;
  }

  get clientID(): number {
    return this.awareness.clientID;
  }

  getLocalState(): AwarenessState | null {
    return this.awareness.getLocalState();
  }

  setLocalStateField(field: string, value: unknown): void {
    // The cursor belongs to this file: never publish it while another file is the open one.
    if (field === 'cursor' && this.awareness.getLocalState()?.['fileId'] !== this.fileId) return;
    this.awareness.setLocalStateField(field, value);
  }

  /** Remote states come with their `user` fields made safe (y-codemirror.next puts them into CSS). */
  getStates(): Map<number, AwarenessState> {
    const states = new Map<number, AwarenessState>();
    for (const [clientId, state] of this.awareness.getStates()) {
      if (clientId === this.awareness.clientID) states.set(clientId, state);
      else if (state['fileId'] === this.fileId) states.set(clientId, renderableState(state));
    }
    return states;
  }

  on(event: 'change' | 'update', listener: ChangeListener): void {
    this.awareness.on(event, listener);
  }

  off(event: 'change' | 'update', listener: ChangeListener): void {
    this.awareness.off(event, listener);
  }
}

const editorTheme = EditorView.theme({
  '&': { height: '100%', fontSize: '13.5px' },
  '.cm-scroller': {
    fontFamily: "ui-monospace, 'SFMono-Regular', 'JetBrains Mono', Menlo, Consolas, monospace",
    lineHeight: '1.55',
  },
  '.cm-content': { paddingBottom: '40vh' },
  // Names stay visible next to remote carets (y-codemirror.next shows them only on hover).
  '.cm-ySelectionInfo': {
    opacity: '1',
    top: '-1.35em',
    fontFamily: 'system-ui, sans-serif',
    fontSize: '11px',
    fontWeight: '600',
    padding: '0 5px',
    borderRadius: '4px 4px 4px 0',
  },
});

export type CodeEditorOptions = {
  parent: HTMLElement;
  path: string;
  ytext: Y.Text;
  awareness: FileAwareness;
  undoManager: Y.UndoManager;
  readOnly: boolean;
};

/** A CodeMirror 6 view bound to a file's Y.Text: shared edits, remote carets, Yjs undo. */
export function createCodeEditor(options: CodeEditorOptions): EditorView {
  const state = EditorState.create({
    doc: options.ytext.toString(),
    extensions: [
      // Yjs undo (only this user's changes) wins over CodeMirror's history, which would also undo others' edits.
      Prec.high(keymap.of(yUndoManagerKeymap)),
      basicSetup,
      languageFor(options.path),
      editorTheme,
      yCollab(options.ytext, options.awareness, { undoManager: options.undoManager }),
      EditorState.readOnly.of(options.readOnly),
      EditorView.editable.of(!options.readOnly),
      EditorView.contentAttributes.of({ 'aria-label': `Editor: ${options.path}`, 'data-path': options.path }),
    ],
  });
  return new EditorView({ state, parent: options.parent });
}
