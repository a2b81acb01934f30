import type { FileEntry } from '@tandem/protocol';
import { useState } from 'preact/hooks';
import { useEditorStore } from './editor-context.js';
import { FOLDER_PLACEHOLDER } from './editor-store.js';

/** A folder or file of the tree built from the shard's flat list of paths. */
type FolderNode = { name: string; path: string; kind: 'folder'; children: TreeNode[] };
type TreeNode = FolderNode | { name: string; path: string; kind: 'file'; file: FileEntry };

/**
 * The file tree: folders first, then files, each alphabetical; folders collapse. Rows carry
 * `data-path` and `data-kind` (and the action buttons `aria-label`s naming the path) so people
 * using assistive technology, and tests, can find them.
 */
export function FileTree() {
  const store = useEditorStore();
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const active = store.active.value;
  const activePath = active === null ? null : store.pathOf(active);
  const toggle = (path: string) =>
    setCollapsed((previous) => {
      const next = new Set(previous);
      if (!next.delete(path)) next.add(path);
      return next;
    });
  return (
    <ul class="tree" role="tree" aria-label="Files">
      <TreeNodes
        nodes={buildTree(store.tree.value)}
        depth={0}
        activePath={activePath}
        collapsed={collapsed}
        onToggle={toggle}
      />
    </ul>
  );
}

type TreeNodesProps = {
  nodes: TreeNode[];
  depth: number;
  activePath: string | null;
  collapsed: ReadonlySet<string>;
  onToggle: (path: string) => void;
};

function TreeNodes(props: TreeNodesProps) {
  const store = useEditorStore();
  return (
    <>
      {props.nodes.map((node) => {
        if (node.kind === 'file' && node.name === FOLDER_PLACEHOLDER) return null;
        const open = node.kind === 'folder' && !props.collapsed.has(node.path);
        const icon = node.kind === 'folder' ? (open ? 'folder-open' : 'folder') : `file ext-${extensionOf(node.name)}`;
        return (
          <li key={node.path} role="treeitem" aria-expanded={node.kind === 'folder' ? open : undefined}>
            <div
              class={`tree-row${node.path === props.activePath ? ' active' : ''}`}
              style={{ paddingLeft: `${8 + props.depth * 14}px` }}
              data-path={node.path}
              data-kind={node.kind}
              title={node.path}
              onClick={() => {
                if (node.kind === 'file') void store.openTab(node.file.id);
                else props.onToggle(node.path);
              }}
            >
              <span class={`tree-icon ${icon}`} aria-hidden="true" />
              <span class="tree-name">{node.name}</span>
              {store.canWrite ? <RowActions node={node} /> : null}
            </div>
            {node.kind === 'folder' && open ? (
              <ul role="group">
                <TreeNodes {...props} nodes={node.children} depth={props.depth + 1} />
              </ul>
            ) : null}
          </li>
        );
      })}
    </>
  );
}

function RowActions(props: { node: TreeNode }) {
  const store = useEditorStore();
  const { node } = props;
  const button = (label: string, icon: string, run: () => Promise<void>) => (
    <button
      type="button"
      class="icon-button"
      title={label}
      aria-label={`${label} ${node.path}`}
      onClick={(event) => {
        event.stopPropagation();
        void run();
      }}
    >
      {icon}
    </button>
  );
  return (
    <span class="row-actions">
      {node.kind === 'folder' ? button('New file in', '+', () => store.createFile(`${node.path}/`)) : null}
      {button('Rename', '✎', () => store.renamePath(node.path, node.kind))}
      {button('Delete', '✕', () => store.deletePath(node.path, node.kind))}
    </span>
  );
}

function buildTree(files: FileEntry[]): TreeNode[] {
  const root: FolderNode = { name: '', path: '', kind: 'folder', children: [] };
  for (const file of files) {
    const parts = file.path.split('/');
    let folder = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i] ?? '';
      let next = folder.children.find((c): c is FolderNode => c.kind === 'folder' && c.name === name);
      if (next === undefined) {
        next = { name, path: parts.slice(0, i + 1).join('/'), kind: 'folder', children: [] };
        folder.children.push(next);
      }
      folder = next;
    }
    folder.children.push({ name: parts[parts.length - 1] ?? file.path, path: file.path, kind: 'file', file });
  }
  sortTree(root);
  return root.children;
}

function sortTree(node: TreeNode): void {
  if (node.kind !== 'folder') return;
  node.children.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'folder' ? -1 : 1));
  for (const child of node.children) sortTree(child);
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? 'none' : name.slice(dot + 1).toLowerCase();
}
