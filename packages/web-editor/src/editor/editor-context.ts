import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { EditorStore } from './editor-store.js';

/** The open project's store, provided by the editor page to everything inside it. */
export const EditorStoreContext = createContext<EditorStore | null>(null);

/** The open project's store (inside the editor page only). */
export function useEditorStore(): EditorStore {
  const store = useContext(EditorStoreContext);
  if (store === null) throw new Error('useEditorStore() is used outside the editor page');
  return store;
}
