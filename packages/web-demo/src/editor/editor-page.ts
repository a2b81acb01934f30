import {
  TandemClient,
  TandemError,
  TandemRest,
  type Refusal,
  type SessionStatus,
  type ShardSession,
  type TreeOpFailure,
} from '@tandem/client-sdk';
import { normalizePath, type ErrorBody, type FileId, type TemplateSummary, type TreeChange } from '@tandem/protocol';
import type { EditorView } from '@codemirror/view';
import * as Y from 'yjs';
import { confirmAction, h, promptText, replaceChildren, toast } from '../dom.js';
import { freeColor, loadIdentity, saveName, withColor, type Identity } from '../identity.js';
import { rememberShard } from '../recent-shards.js';
import { loadWebConfig, type WebConfig } from '../session-token.js';
import { nodeRuntimeNotice, PreviewPanel } from '../preview/preview-panel.js';
import { createCodeEditor, FileAwareness } from './code-editor.js';
import { FileTree, FOLDER_PLACEHOLDER } from './file-tree.js';
import { NoticeBoard } from './notice-board.js';
import { safeColor, safeName } from './presence-style.js';

export type EditorPageOptions = {
  shardId: string;
  token: string;
  /** The token was refused: ask for another one. */
  onAuthError: (message: string) => void;
};

const AUTH_ERRORS = new Set(['UNAUTHENTICATED', 'TOKEN_EXPIRED']);

/** Opens a shard in the editor: joins it, then builds the page (or explains why it cannot). */
export async function showEditor(root: HTMLElement, options: EditorPageOptions): Promise<void> {
  replaceChildren(root, h('div', { class: 'loading' }, 'Connecting…'));
  const client = new TandemClient({ url: location.origin, token: options.token });
  const rest = new TandemRest({ url: location.origin, token: options.token });
  let session: ShardSession;
  try {
    session = await client.join(options.shardId);
  } catch (error) {
    await client.close();
    const code = error instanceof TandemError ? error.code : 'UNAVAILABLE';
    const message = error instanceof Error ? error.message : String(error);
    if (AUTH_ERRORS.has(code)) return options.onAuthError(message);
    replaceChildren(
      root,
      h(
        'div',
        { class: 'page-message' },
        h(
          'h1',
          {},
          code === 'SHARD_NOT_FOUND'
            ? 'Project not found'
            : code === 'FORBIDDEN'
              ? 'No access to this project'
              : 'Cannot open this project',
        ),
        h('p', {}, message),
        h('p', {}, h('a', { href: '/', class: 'button' }, 'Back to projects')),
        code === 'FORBIDDEN'
          ? h(
              'p',
              {},
              h(
                'button',
                { type: 'button', class: 'button', onclick: () => options.onAuthError(message) },
                'Use another token',
              ),
            )
          : null,
      ),
    );
    return;
  }
  const [config, templates] = await Promise.all([
    loadWebConfig(),
    rest.listTemplates().catch(() => ({ templates: [] as TemplateSummary[] })),
  ]);
  const template = templates.templates.find((t) => t.id === session.shard.templateId);
  rememberShard({ id: session.shardId, name: session.shard.name, templateId: session.shard.templateId });
  const page = new EditorPage(root, client, session, rest, template, config, loadIdentity(options.token));
  page.mount();
}

type OpenText = { text: Y.Text; undo: Y.UndoManager };

/** The editor: file tree, tabs, CodeMirror, presence, status, share, download, preview. */
class EditorPage {
  private readonly tree: FileTree;
  private readonly tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Open files' });
  private readonly editorHost = h('div', { class: 'editor-host' });
  private readonly status = h('span', { class: 'status-badge', 'data-status': 'connecting', role: 'status' });
  private readonly presence = h('ul', { class: 'presence', 'aria-label': 'People here' });
  private readonly queueChip = h('span', { class: 'chip chip-queue', 'data-testid': 'queued-ops', hidden: true });
  private readonly notices = new NoticeBoard();
  /** Errors already shown as a refusal banner (the session reports them as both). */
  private readonly shownAsRefusal = new WeakSet<ErrorBody>();
  private readonly texts = new Map<FileId, OpenText>();
  private openTabs: FileId[] = [];
  private active: FileId | null = null;
  private view: EditorView | null = null;
  private viewToken = 0;
  private unsyncedOffline = false;
  private preview: PreviewPanel | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly client: TandemClient,
    private readonly session: ShardSession,
    private readonly rest: TandemRest,
    private readonly template: TemplateSummary | undefined,
    private readonly config: WebConfig,
    private identity: Identity,
  ) {
    this.tree = new FileTree(
      {
        open: (file) => void this.openTab(file.id),
        createIn: (folder) => void this.createFile(`${folder}/`),
        rename: (path, kind) => void this.renamePath(path, kind),
        remove: (path, kind) => void this.deletePath(path, kind),
      },
      session.canWrite,
    );
  }

  mount(): void {
    const canWrite = this.session.canWrite;
    const runtime = this.template?.runtime ?? (this.session.fileId('index.html') === undefined ? 'node' : 'browser');
    let previewPane: HTMLElement;
    if (runtime === 'node') {
      previewPane = nodeRuntimeNotice(this.template?.title ?? 'These', () => void this.download());
    } else {
      this.preview = new PreviewPanel(
        this.session,
        { entry: this.template?.entry ?? 'index.html', framework: this.template?.framework ?? 'none' },
        {
          cdnBaseUrl: this.config.previewCdnUrl,
          previewOrigin: this.config.previewOrigin,
          reveal: (place) => void this.revealPlace(place.file, place.line, place.column),
        },
      );
      previewPane = this.preview.element;
    }
    const nameInput = h('input', {
      class: 'name-input',
      type: 'text',
      value: this.identity.name,
      'aria-label': 'Your name',
      title: 'Your name, as others see it',
      maxlength: 40,
    });
    nameInput.addEventListener('change', () => {
      const name = nameInput.value.trim();
      if (name === '') return;
      saveName(name);
      this.identity = { ...this.identity, name };
      this.session.setPresence({ user: this.identity });
    });

    replaceChildren(
      this.root,
      h(
        'div',
        { class: 'editor-page' },
        h(
          'header',
          { class: 'topbar' },
          h(
            'a',
            { class: 'brand', href: '/', title: 'All projects' },
            h('span', { class: 'logo', 'aria-hidden': 'true' }),
            'Tandem',
          ),
          h('span', { class: 'shard-name', title: this.session.shardId }, this.session.shard.name),
          h('span', { class: 'chip' }, this.template?.title ?? this.session.shard.templateId),
          canWrite ? null : h('span', { class: 'chip chip-readonly', 'data-testid': 'read-only' }, 'View only'),
          this.status,
          this.queueChip,
          h('div', { class: 'spacer' }),
          this.presence,
          nameInput,
          canWrite
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'button',
                  'data-action': 'share-write',
                  onclick: () => void this.share('write'),
                },
                'Share edit link',
              )
            : null,
          canWrite
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'button',
                  'data-action': 'share-read',
                  onclick: () => void this.share('read'),
                },
                'Share view link',
              )
            : null,
          h(
            'button',
            { type: 'button', class: 'button', 'data-action': 'download', onclick: () => void this.download() },
            'Download .zip',
          ),
        ),
        h(
          'div',
          { class: 'workspace' },
          h(
            'aside',
            { class: 'sidebar' },
            h(
              'div',
              { class: 'pane-header' },
              h('span', { class: 'pane-title' }, 'Files'),
              canWrite
                ? h(
                    'span',
                    { class: 'pane-actions' },
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'icon-button',
                        'data-action': 'new-file',
                        title: 'New file',
                        'aria-label': 'New file',
                        onclick: () => void this.createFile(''),
                      },
                      '+',
                    ),
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'icon-button',
                        'data-action': 'new-folder',
                        title: 'New folder',
                        'aria-label': 'New folder',
                        onclick: () => void this.createFolder(),
                      },
                      '⊞',
                    ),
                  )
                : null,
            ),
            this.tree.element,
          ),
          h('section', { class: 'editor-area' }, this.tabs, this.notices.element, this.editorHost),
          previewPane,
        ),
      ),
    );

    this.session.setPresence({ user: this.identity, file: null, fileId: null });
    this.session.on('status', (status) => {
      this.renderStatus(status);
      this.renderQueue();
    });
    this.session.on('tree', (_files, change) => this.onTree(change));
    this.session.on('queue', () => this.renderQueue());
    this.session.on('refused', (refusal) => this.onRefused(refusal));
    this.session.on('reset', ({ fileId, text }) => this.onReset(fileId, text));
    this.session.on('op-failed', (failure) => this.onOpFailed(failure));
    this.session.on('error', (error) => {
      // Refusals have their own banner; NOT_JOINED is the session rejoining on its own; a file
      // someone deleted leaves the tree (and its tab closes).
      if (this.shownAsRefusal.has(error) || error.code === 'NOT_JOINED' || error.code === 'FILE_NOT_FOUND') return;
      toast(error.message, 'error');
    });
    this.client.on('error', (error) => toast(error.message, 'error'));
    const onAwareness = () => {
      this.avoidColorClash();
      this.renderPresence();
    };
    this.session.awareness.on('change', onAwareness);
    window.addEventListener('beforeunload', () => void this.client.close());
    this.renderStatus(this.session.status);
    this.renderPresence();
    this.tree.update(this.session.tree(), null);
    this.preview?.start();

    const wanted = [...(this.template?.openFiles ?? []), this.template?.activeFile].filter(
      (p): p is string => p !== undefined,
    );
    for (const path of wanted) {
      const id = this.session.fileId(path);
      if (id !== undefined && !this.openTabs.includes(id)) this.openTabs.push(id);
    }
    const first =
      this.session.fileId(this.template?.activeFile ?? '') ?? this.openTabs[0] ?? this.session.tree()[0]?.id;
    if (first !== undefined) void this.openTab(first);
    else this.renderTabs();
  }

  // ---- tabs and the editor ------------------------------------------------------------------

  private pathOf(id: FileId): string {
    return this.session.tree().find((f) => f.id === id)?.path ?? '';
  }

  private async openTab(id: FileId): Promise<void> {
    if (!this.openTabs.includes(id)) this.openTabs.push(id);
    this.active = id;
    this.renderTabs();
    this.tree.update(this.session.tree(), this.pathOf(id));
    await this.showEditorFor(id);
  }

  /** Opens `path` and puts the cursor at `line`:`column` (1-based), as a click on an error does. */
  private async revealPlace(path: string, line: number, column: number): Promise<void> {
    const id = this.session.fileId(path);
    if (id === undefined) {
      toast(`${path} is not a file of this project`, 'error');
      return;
    }
    await this.openTab(id);
    const view = this.view;
    if (view === null || this.active !== id) return;
    const doc = view.state.doc;
    const target = doc.line(Math.min(Math.max(1, line), doc.lines));
    const anchor = target.from + Math.min(Math.max(0, column - 1), target.length);
    view.dispatch({ selection: { anchor }, scrollIntoView: true });
    view.focus();
  }

  private closeTab(id: FileId): void {
    const index = this.openTabs.indexOf(id);
    if (index < 0) return;
    this.openTabs.splice(index, 1);
    if (this.active === id) {
      const next = this.openTabs[Math.min(index, this.openTabs.length - 1)];
      if (next !== undefined) {
        void this.openTab(next);
        return;
      }
      this.active = null;
      this.destroyView();
      this.session.setPresence({ file: null, fileId: null, cursor: null });
      this.editorHost.replaceChildren(h('div', { class: 'empty-editor' }, 'Open a file from the tree.'));
      this.tree.update(this.session.tree(), null);
    }
    this.renderTabs();
  }

  private async textOf(id: FileId): Promise<OpenText> {
    const existing = this.texts.get(id);
    if (existing !== undefined) return existing;
    const text = await this.session.openFile(id);
    return this.texts.get(id) ?? this.track(id, text);
  }

  private track(id: FileId, text: Y.Text): OpenText {
    const entry = { text, undo: new Y.UndoManager(text) };
    this.texts.set(id, entry);
    text.observe((event) => {
      if (event.transaction.local && this.session.status === 'offline') {
        this.unsyncedOffline = true;
        this.renderStatus(this.session.status);
      }
    });
    return entry;
  }

  private async showEditorFor(id: FileId): Promise<void> {
    const token = ++this.viewToken;
    let entry: OpenText;
    try {
      entry = await this.textOf(id);
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error');
      return;
    }
    if (token !== this.viewToken) return;
    const path = this.pathOf(id);
    this.destroyView();
    // Switch the presence to this file before the editor publishes a cursor in it.
    this.session.setPresence({ file: path, fileId: id, cursor: null });
    this.view = createCodeEditor({
      parent: this.editorHost,
      path,
      ytext: entry.text,
      undoManager: entry.undo,
      awareness: new FileAwareness(this.session.awareness, id),
      readOnly: !this.session.canWrite,
    });
    this.view.focus();
  }

  private destroyView(): void {
    this.view?.destroy();
    this.view = null;
    this.editorHost.replaceChildren();
  }

  private renderTabs(): void {
    const tabs = this.openTabs.map((id) => {
      const path = this.pathOf(id);
      const name = path.slice(path.lastIndexOf('/') + 1);
      return h(
        'div',
        {
          class: `tab${id === this.active ? ' active' : ''}`,
          role: 'tab',
          'aria-selected': String(id === this.active),
          'data-path': path,
          title: path,
          onclick: () => void this.openTab(id),
        },
        h('span', { class: 'tab-name' }, name),
        h(
          'button',
          {
            type: 'button',
            class: 'tab-close',
            'aria-label': `Close ${path}`,
            onclick: (event: Event) => {
              event.stopPropagation();
              this.closeTab(id);
            },
          },
          '×',
        ),
      );
    });
    this.tabs.replaceChildren(...tabs);
  }

  private onTree(change: TreeChange | null): void {
    const present = new Set(this.session.tree().map((f) => f.id));
    for (const id of [...this.openTabs]) if (!present.has(id)) this.closeTab(id);
    for (const id of [...this.texts.keys()]) if (!present.has(id)) this.texts.delete(id);
    this.renderTabs();
    const activePath = this.active === null ? null : this.pathOf(this.active);
    this.tree.update(this.session.tree(), activePath);
    // A rename can change the language (App.js → App.jsx): rebuild the view of the active file.
    if (change?.kind === 'renamed' && this.active !== null && change.moves.some((m) => m.id === this.active)) {
      void this.showEditorFor(this.active);
    }
    this.renderPresence();
  }

  // ---- file operations ----------------------------------------------------------------------

  private async createFile(prefix: string): Promise<void> {
    const path = await promptText('New file (path from the project root)', prefix, 'Create');
    if (path === null) return;
    // The file is in the tree at once (also offline): open it now; the server applies it later.
    const applied = this.session.createFile(path);
    const canonical = normalizePath(path);
    const id = canonical.ok ? this.session.fileId(canonical.path) : undefined;
    if (id !== undefined) void this.openTab(id);
    try {
      await applied;
    } catch (error) {
      // Failures of queued operations are shown by onOpFailed; this is a refusal up front.
      if (!(error instanceof TandemError) || error.code === 'PATH_INVALID' || error.code === 'READ_ONLY')
        toast(messageOf(error), 'error');
    }
  }

  private async createFolder(): Promise<void> {
    const path = await promptText('New folder', '', 'Create');
    if (path === null) return;
    await this.session
      .createFile(`${path.replace(/\/+$/, '')}/${FOLDER_PLACEHOLDER}`)
      .catch((error: unknown) => this.upFront(error));
  }

  private async renamePath(path: string, kind: 'file' | 'folder'): Promise<void> {
    const target = await promptText(
      kind === 'folder' ? 'Rename or move folder' : 'Rename or move file',
      path,
      'Rename',
    );
    if (target === null || target === path) return;
    await this.session.rename(path, target).catch((error: unknown) => this.upFront(error));
  }

  private async deletePath(path: string, kind: 'file' | 'folder'): Promise<void> {
    const ok = await confirmAction(
      kind === 'folder' ? `Delete the folder ${path} and every file in it?` : `Delete ${path}?`,
    );
    if (!ok) return;
    await this.session.delete(path).catch((error: unknown) => this.upFront(error));
  }

  /**
   * A file operation refused before it was queued (an invalid name, a view-only link). Queued
   * operations that fail later are shown by onOpFailed.
   */
  private upFront(error: unknown): void {
    if (error instanceof TandemError && error.code !== 'PATH_INVALID' && error.code !== 'READ_ONLY') return;
    toast(messageOf(error), 'error');
  }

  private onOpFailed(failure: TreeOpFailure): void {
    const path = failure.op.kind === 'rename' ? failure.op.to : failure.op.path;
    this.notices.show({
      key: `op:${failure.op.opId}`,
      kind: 'op-failed',
      message: failure.message,
      ...(failure.localText === undefined || failure.localText === ''
        ? {}
        : { text: failure.localText, fileName: path.slice(path.lastIndexOf('/') + 1) }),
    });
  }

  // ---- refused edits ------------------------------------------------------------------------

  private onRefused(refusal: Refusal): void {
    this.shownAsRefusal.add(refusal.error);
    const path = refusal.path || this.pathOf(refusal.fileId);
    this.notices.show({
      key: `refused:${refusal.fileId}`,
      kind: 'refused',
      path,
      message: `Your change to ${path} was not saved: ${refusalReason(refusal.error)}. The file now shows what the server has; your text is kept here until you dismiss this.`,
      text: refusal.localText,
      fileName: path.slice(path.lastIndexOf('/') + 1),
      onDismiss: () => this.session.dismissRefusal(refusal.fileId),
    });
  }

  /** The file's document was replaced by the server's state: bind the editor to the new text. */
  private onReset(fileId: FileId, text: Y.Text): void {
    this.texts.get(fileId)?.undo.destroy();
    this.texts.delete(fileId);
    this.track(fileId, text);
    if (this.active === fileId) void this.showEditorFor(fileId);
  }

  private renderQueue(): void {
    const n = this.session.queuedOps().length;
    this.queueChip.hidden = n === 0;
    const changes = n === 1 ? '1 change' : `${n} changes`;
    this.queueChip.textContent =
      this.session.status === 'offline' || this.session.status === 'connecting'
        ? `${changes} waiting for connection`
        : `Applying ${changes}…`;
    this.queueChip.title = this.session
      .queuedOps()
      .map((op) => (op.kind === 'rename' ? `rename ${op.from} → ${op.to}` : `${op.kind} ${op.path}`))
      .join('\n');
  }

  // ---- status and presence ------------------------------------------------------------------

  private renderStatus(status: SessionStatus): void {
    if (status !== 'offline') this.unsyncedOffline = false;
    const labels: Record<SessionStatus, string> = {
      connecting: 'Connecting…',
      syncing: 'Saving…',
      live: 'Live',
      saved: 'All changes saved',
      offline: this.unsyncedOffline ? 'Offline · unsynced edits kept' : 'Offline',
    };
    const hints: Record<SessionStatus, string> = {
      connecting: 'Joining the project',
      syncing: 'Sending your latest edits',
      live: 'Your edits reached the server; saving to the database',
      saved: 'Every edit is stored in the database',
      offline: 'Edits stay in this tab and merge when the connection returns',
    };
    this.status.dataset['status'] = status;
    this.status.textContent = labels[status];
    this.status.title = hints[status];
  }

  /** Two people in one colour cannot tell their carets apart: the later one (higher client id) moves. */
  private avoidColorClash(): void {
    const me = this.session.awareness.clientID;
    const taken = new Set<string>();
    for (const [clientId, state] of this.session.awareness.getStates()) {
      const color = (state['user'] as Partial<Identity> | undefined)?.color;
      if (clientId !== me && clientId < me && color !== undefined) taken.add(color);
    }
    const next = freeColor(this.identity.color, taken);
    if (next === null) return;
    this.identity = withColor(this.identity, next);
    this.session.setPresence({ user: this.identity });
  }

  private renderPresence(): void {
    const items: HTMLElement[] = [];
    const states = [...this.session.awareness.getStates()].sort(([a], [b]) =>
      a === this.session.awareness.clientID ? -1 : b === this.session.awareness.clientID ? 1 : a - b,
    );
    for (const [clientId, state] of states) {
      const user = state['user'] as Partial<Identity> | undefined;
      if (user?.name === undefined) continue;
      const self = clientId === this.session.awareness.clientID;
      const fileId = typeof state['fileId'] === 'string' ? (state['fileId'] as FileId) : null;
      const file =
        fileId === null ? null : this.pathOf(fileId) || (typeof state['file'] === 'string' ? state['file'] : null);
      items.push(
        h(
          'li',
          {
            class: `presence-item${self ? ' self' : ''}`,
            'data-name': user.name,
            'data-file': file ?? '',
            title: `${user.name}${self ? ' (you)' : ''}${file === null ? '' : ` — ${file}`}`,
            onclick: () => {
              if (!self && fileId !== null && this.session.tree().some((f) => f.id === fileId))
                void this.openTab(fileId);
            },
          },
          avatarOf(user),
          h(
            'span',
            { class: 'presence-text' },
            h('span', { class: 'presence-name' }, self ? `${user.name} (you)` : user.name),
            h('span', { class: 'presence-file' }, file ?? '—'),
          ),
        ),
      );
    }
    this.presence.replaceChildren(...items);
  }

  // ---- share and download -------------------------------------------------------------------

  private async share(access: 'read' | 'write'): Promise<void> {
    try {
      const { token } = await this.rest.shareToken(this.session.shardId, access);
      const url = `${location.origin}/s/${this.session.shardId}#token=${encodeURIComponent(token)}`;
      showShareDialog(url, access);
    } catch (error) {
      toast(messageOf(error), 'error');
    }
  }

  private async download(): Promise<void> {
    try {
      const blob = await this.rest.downloadZip(this.session.shardId);
      const url = URL.createObjectURL(blob);
      const link = h('a', {
        href: url,
        download: `${this.session.shard.name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'project'}.zip`,
      });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      toast(messageOf(error), 'error');
    }
  }
}

function showShareDialog(url: string, access: 'read' | 'write'): void {
  const input = h('input', {
    type: 'text',
    class: 'input share-url',
    readonly: true,
    value: url,
    'aria-label': 'Share link',
  });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const dialog = h(
    'dialog',
    { class: 'dialog share-dialog', 'data-access': access },
    h('h2', {}, access === 'write' ? 'Edit link' : 'View-only link'),
    h(
      'p',
      {},
      access === 'write'
        ? 'Anyone with this link can edit the project.'
        : 'Anyone with this link can follow along but not edit.',
    ),
    input,
    h(
      'div',
      { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'button', onclick: close }, 'Close'),
      h(
        'button',
        {
          type: 'button',
          class: 'button primary',
          onclick: () => {
            input.select();
            navigator.clipboard?.writeText(url).then(
              () => toast('Link copied'),
              () => toast('Press Ctrl+C to copy the selected link'),
            );
          },
        },
        'Copy link',
      ),
    ),
  );
  dialog.addEventListener('cancel', close);
  document.body.appendChild(dialog);
  dialog.showModal();
  input.select();
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '')).toUpperCase();
}

/** Why the server refused an edit, in words for the person who typed it. */
function refusalReason(error: ErrorBody): string {
  switch (error.code) {
    case 'PAYLOAD_TOO_LARGE':
      return 'the change was too large to send in one piece';
    case 'FILE_TOO_LARGE':
      return 'the file would be larger than the server allows';
    case 'READ_ONLY':
    case 'FORBIDDEN':
      return 'you can only view this project';
    case 'FILE_NOT_FOUND':
      return 'someone deleted the file';
    case 'UPDATE_MALFORMED':
    case 'VALIDATION_FAILED':
      return 'the server could not read the change';
    default:
      return 'the server refused it';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A collaborator's avatar: their colour set through the CSSOM, and only if it is a hex colour. */
function avatarOf(user: Partial<Identity>): HTMLElement {
  const avatar = h('span', { class: 'avatar' }, initials(safeName(user.name)));
  avatar.style.backgroundColor = safeColor(user.color);
  return avatar;
}
