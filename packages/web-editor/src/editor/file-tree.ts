import type { FileEntry } from '@tandem/protocol';
import { h } from '../dom.js';

/** A folder or file of the tree built from the shard's flat list of paths. */
type FolderNode = { name: string; path: string; kind: 'folder'; children: TreeNode[] };
type TreeNode = FolderNode | { name: string; path: string; kind: 'file'; file: FileEntry };

/** Callbacks of the file tree's rows. */
export type FileTreeActions = {
  open(file: FileEntry): void;
  createIn(folder: string): void;
  rename(path: string, kind: 'file' | 'folder'): void;
  remove(path: string, kind: 'file' | 'folder'): void;
};

/** Folders are implicit (a path prefix); `.gitkeep` holds an otherwise empty folder open. */
export const FOLDER_PLACEHOLDER = '.gitkeep';

/**
 * Renders the file tree: folders first, then files, each alphabetical; folders collapse.
 * Rows carry `data-path` and `data-kind` (and the action buttons `aria-label`s naming the
 * path) so people using assistive technology, and tests, can find them.
 */
export class FileTree {
  readonly element = h('ul', { class: 'tree', role: 'tree', 'aria-label': 'Files' });
  private readonly collapsed = new Set<string>();
  private files: FileEntry[] = [];
  private activePath: string | null = null;

  constructor(
    private readonly actions: FileTreeActions,
    private readonly canWrite: boolean,
  ) {}

  update(files: FileEntry[], activePath: string | null): void {
    this.files = files;
    this.activePath = activePath;
    this.render();
  }

  private render(): void {
    this.element.replaceChildren(...this.renderNodes(buildTree(this.files), 0));
  }

  private renderNodes(nodes: TreeNode[], depth: number): HTMLElement[] {
    const items: HTMLElement[] = [];
    for (const node of nodes) {
      if (node.kind === 'file' && node.name === FOLDER_PLACEHOLDER) continue;
      const isFolder = node.kind === 'folder';
      const open = isFolder && !this.collapsed.has(node.path);
      const row = h(
        'div',
        {
          class: `tree-row${node.path === this.activePath ? ' active' : ''}`,
          style: `padding-left: ${8 + depth * 14}px`,
          'data-path': node.path,
          'data-kind': node.kind,
          title: node.path,
          onclick: () => {
            if (node.kind === 'file') this.actions.open(node.file);
            else {
              if (this.collapsed.has(node.path)) this.collapsed.delete(node.path);
              else this.collapsed.add(node.path);
              this.render();
            }
          },
        },
        h('span', {
          class: `tree-icon ${isFolder ? (open ? 'folder-open' : 'folder') : `file ext-${extensionOf(node.name)}`}`,
          'aria-hidden': 'true',
        }),
        h('span', { class: 'tree-name' }, node.name),
        this.canWrite ? this.rowActions(node) : null,
      );
      const item = h('li', { role: 'treeitem', ...(isFolder ? { 'aria-expanded': String(open) } : {}) }, row);
      if (node.kind === 'folder' && open)
        item.appendChild(h('ul', { role: 'group' }, ...this.renderNodes(node.children, depth + 1)));
      items.push(item);
    }
    return items;
  }

  private rowActions(node: TreeNode): HTMLElement {
    const button = (label: string, icon: string, run: () => void) =>
      h(
        'button',
        {
          type: 'button',
          class: 'icon-button',
          title: label,
          'aria-label': `${label} ${node.path}`,
          onclick: (event: Event) => {
            event.stopPropagation();
            run();
          },
        },
        icon,
      );
    return h(
      'span',
      { class: 'row-actions' },
      node.kind === 'folder' ? button('New file in', '+', () => this.actions.createIn(node.path)) : null,
      button('Rename', '✎', () => this.actions.rename(node.path, node.kind)),
      button('Delete', '✕', () => this.actions.remove(node.path, node.kind)),
    );
  }
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
