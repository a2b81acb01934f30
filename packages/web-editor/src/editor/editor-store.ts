import { batch, signal, type Signal } from '@preact/signals';
import {
  TandemError,
  type Refusal,
  type SessionStatus,
  type ShardSession,
  type TandemClient,
  type TandemRest,
  type TreeOpFailure,
} from '@tandem/client-sdk';
import {
  normalizePath,
  type ErrorBody,
  type FileEntry,
  type FileId,
  type TemplateSummary,
  type TreeChange,
} from '@tandem/protocol';
import * as Y from 'yjs';
import { freeColor, saveName, withColor, type Identity } from '../identity.js';
import { confirmAction, promptText, saveFile, toast } from '../ui/index.js';

/** Folders are implicit (a path prefix); `.gitkeep` holds an otherwise empty folder open. */
export const FOLDER_PLACEHOLDER = '.gitkeep';

/** One banner above the editor: what went wrong, in plain words, and the user's text to take away. */
export type Notice = {
  /** One banner per key (a newer notice with the same key replaces the older one). */
  key: string;
  kind: 'refused' | 'op-failed';
  message: string;
  /** The file the notice is about, if any (for tests and styling). */
  path?: string;
  /** Text the user would otherwise lose: offered as "Copy my text" and "Download my text". */
  text?: string;
  /** The name of the downloaded file. */
  fileName?: string;
  onDismiss?: () => void;
};

/** A file's shared text and this user's undo history in it. */
export type OpenText = { text: Y.Text; undo: Y.UndoManager };

/** The document the code editor shows; a new object (new `key`) means a new EditorView. */
export type ActiveDocument = { key: number; fileId: FileId; path: string; entry: OpenText };

/** A binary file shown in the editor area: its bytes as an object URL (an image preview). */
export type ActiveBinary = {
  key: number;
  fileId: FileId;
  path: string;
  url: string;
  contentType: string;
  size: number;
};

/** Everything the editor page needs besides the session. */
export type EditorContext = {
  client: TandemClient;
  session: ShardSession;
  rest: TandemRest;
  template: TemplateSummary | undefined;
  /** Where the preview's import map points bare imports (`/config.json`'s previewCdnUrl). */
  cdnBaseUrl: string;
  /** The origin the preview runs on, apart from the editor's (`/config.json`'s preview). */
  previewOrigin: string;
  identity: Identity;
  /** The token may create projects (so it may fork this one). */
  canCreate: boolean;
};

/**
 * A place to put the cursor at (1-based), selecting `length` characters, once its file is the open
 * document (a click on an error's place, a search result); `seq` makes each request new.
 */
export type RevealRequest = { fileId: FileId; line: number; column: number; length: number; seq: number };

/**
 * The editor's state, fed by the SDK session's events into signals that components read
 * (a component re-renders when a signal it read changes), and the actions that change it.
 * One per open project; `start()` subscribes, `dispose()` lets go.
 */
export class EditorStore {
  readonly client: TandemClient;
  readonly session: ShardSession;
  readonly rest: TandemRest;
  readonly template: TemplateSummary | undefined;
  readonly cdnBaseUrl: string;
  readonly previewOrigin: string;
  readonly canCreate: boolean;

  /** The project's name (follows renames by anyone). */
  readonly shardName: Signal<string>;
  /** The project was deleted while open: the editor says so and stops. */
  readonly deleted = signal(false);
  /** A panel someone asked to show (a shortcut): PanelArea switches to it. */
  readonly panelRequest = signal<{ id: string; seq: number } | null>(null);
  /**
   * Whether the side panels are shown as a drawer over the editor: below 900 px there is no room
   * for their column, so they show only while this is true (a button, a shortcut or showPanel
   * opens them; a jump to a place in a file and their close button close them). Wider screens
   * always show the column and ignore it.
   */
  readonly sidePanelsOpen = signal(false);

  /** The session's connection and save state. */
  readonly status = signal<SessionStatus>('connecting');
  /** Local edits were made while offline and are not on the server yet. */
  readonly unsyncedOffline = signal(false);
  /** The shard's files (paths and ids). */
  readonly tree = signal<FileEntry[]>([]);
  /** File operations not yet confirmed by the server (the offline queue). */
  readonly queue = signal<ReturnType<ShardSession['queuedOps']>>([]);
  /** Bumped on every awareness change: read it to re-render with presence. */
  readonly presenceVersion = signal(0);
  readonly identity: Signal<Identity>;
  readonly openTabs = signal<FileId[]>([]);
  readonly active = signal<FileId | null>(null);
  readonly activeDocument = signal<ActiveDocument | null>(null);
  /** The active tab's binary file (an image, a font), when it is one; activeDocument is then null. */
  readonly activeBinary = signal<ActiveBinary | null>(null);
  /** Banners above the editor (refused edits, failed file operations), one per key. */
  readonly notices = signal<Notice[]>([]);
  /** Where the code editor should put the cursor (a click on an error's place). */
  readonly reveal = signal<RevealRequest | null>(null);
  /** The `seq` of the reveal request an editor view applied last (each is applied once). */
  revealApplied = 0;

  /** Errors already shown as a refusal banner (the session reports them as both). */
  private readonly shownAsRefusal = new WeakSet<ErrorBody>();
  private readonly texts = new Map<FileId, OpenText>();
  private readonly detach: Array<() => void> = [];
  /** This user's own renames and deletes (`rename:<from>`, `delete:<path>`), not announced back to them. */
  private readonly ownOps = new Set<string>();
  private viewToken = 0;

  constructor(context: EditorContext) {
    this.client = context.client;
    this.session = context.session;
    this.rest = context.rest;
    this.template = context.template;
    this.cdnBaseUrl = context.cdnBaseUrl;
    this.previewOrigin = context.previewOrigin;
    this.canCreate = context.canCreate;
    this.identity = signal(context.identity);
    this.shardName = signal(context.session.shard.name);
  }

  get canWrite(): boolean {
    return this.session.canWrite;
  }

  /** Subscribes to the session and opens the template's files. */
  start(): void {
    const session = this.session;
    session.setPresence({ user: this.identity.value, file: null, fileId: null });
    this.detach.push(
      session.on('status', (status) => this.setStatus(status)),
      session.on('tree', (_files, change) => this.onTree(change)),
      session.on('queue', () => (this.queue.value = session.queuedOps())),
      session.on('refused', (refusal) => this.onRefused(refusal)),
      session.on('reset', ({ fileId, text }) => this.onReset(fileId, text)),
      session.on('op-failed', (failure) => this.onOpFailed(failure)),
      session.on('error', (error) => {
        // Refusals have their own banner; NOT_JOINED is the session rejoining on its own; a file
        // someone deleted leaves the tree (and its tab closes).
        if (this.shownAsRefusal.has(error) || error.code === 'NOT_JOINED' || error.code === 'FILE_NOT_FOUND') return;
        toast(error.message, 'error');
      }),
      this.client.on('error', (error) => toast(error.message, 'error')),
      session.on('renamed', (name) => (this.shardName.value = name)),
      session.on('deleted', () => {
        this.viewToken++;
        this.deleted.value = true;
      }),
    );
    const onAwareness = () => {
      this.avoidColorClash();
      this.presenceVersion.value++;
    };
    session.awareness.on('change', onAwareness);
    this.detach.push(() => session.awareness.off('change', onAwareness));
    batch(() => {
      this.setStatus(session.status);
      this.tree.value = session.tree();
      this.queue.value = session.queuedOps();
    });

    const wanted = [...(this.template?.openFiles ?? []), this.template?.activeFile].filter(
      (p): p is string => p !== undefined,
    );
    const tabs: FileId[] = [];
    for (const path of wanted) {
      const id = session.fileId(path);
      if (id !== undefined && !tabs.includes(id)) tabs.push(id);
    }
    this.openTabs.value = tabs;
    const first = session.fileId(this.template?.activeFile ?? '') ?? tabs[0] ?? session.tree()[0]?.id;
    if (first !== undefined) void this.openTab(first);
  }

  dispose(): void {
    for (const off of this.detach.splice(0)) off();
    this.viewToken++;
  }

  /** The file's current path ('' once deleted); reading it subscribes to tree changes. */
  pathOf(id: FileId): string {
    void this.tree.value;
    return this.session.tree().find((f) => f.id === id)?.path ?? '';
  }

  // ---- tabs and the open document -----------------------------------------------------------

  async openTab(id: FileId): Promise<void> {
    batch(() => {
      if (!this.openTabs.value.includes(id)) this.openTabs.value = [...this.openTabs.value, id];
      this.active.value = id;
    });
    await this.showDocument(id);
  }

  /** Opens `path` and puts the cursor at `line`:`column` (1-based), as a click on an error's place does. */
  async revealPlace(path: string, line: number, column: number): Promise<void> {
    const id = this.session.fileId(path);
    if (id === undefined) {
      toast(`${path} is not a file of this project`, 'error');
      return;
    }
    await this.revealAt(id, line, column);
  }

  /** Shows a file and puts the cursor at a line and column (1-based), selecting `length` characters. */
  async revealAt(fileId: FileId, line: number, column: number, length = 0): Promise<void> {
    await this.openTab(fileId);
    // On a narrow screen the drawer would cover the place.
    this.sidePanelsOpen.value = false;
    this.reveal.value = { fileId, line, column, length, seq: (this.reveal.value?.seq ?? 0) + 1 };
  }

  closeTab(id: FileId): void {
    const tabs = this.openTabs.value;
    const index = tabs.indexOf(id);
    if (index < 0) return;
    const rest = tabs.filter((t) => t !== id);
    this.openTabs.value = rest;
    if (this.active.value !== id) return;
    const next = rest[Math.min(index, rest.length - 1)];
    if (next !== undefined) {
      void this.openTab(next);
      return;
    }
    this.viewToken++;
    batch(() => {
      this.active.value = null;
      this.activeDocument.value = null;
      this.showBinary(null);
    });
    this.session.setPresence({ file: null, fileId: null, cursor: null });
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
      if (event.transaction.local && this.session.status === 'offline') this.unsyncedOffline.value = true;
    });
    return entry;
  }

  private async showDocument(id: FileId): Promise<void> {
    const token = ++this.viewToken;
    if (this.session.isBinary(id)) {
      await this.showBinaryFile(id, token);
      return;
    }
    let entry: OpenText;
    try {
      entry = await this.textOf(id);
    } catch (error) {
      toast(messageOf(error), 'error');
      return;
    }
    if (token !== this.viewToken) return;
    const path = this.pathOf(id);
    // Switch the presence to this file before the editor publishes a cursor in it.
    this.session.setPresence({ file: path, fileId: id, cursor: null });
    batch(() => {
      this.showBinary(null);
      this.activeDocument.value = { key: token, fileId: id, path, entry };
    });
  }

  /** Reads a binary file over REST and shows it (an image preview, or its size and type). */
  private async showBinaryFile(id: FileId, token: number): Promise<void> {
    const path = this.pathOf(id);
    let read: { bytes: Uint8Array; contentType: string };
    try {
      read = await this.rest.readBinaryFile(this.session.shardId, path);
    } catch (error) {
      toast(messageOf(error), 'error');
      return;
    }
    if (token !== this.viewToken) return;
    const url = URL.createObjectURL(new Blob([read.bytes as Uint8Array<ArrayBuffer>], { type: read.contentType }));
    this.session.setPresence({ file: path, fileId: id, cursor: null });
    batch(() => {
      this.activeDocument.value = null;
      this.showBinary({
        key: token,
        fileId: id,
        path,
        url,
        contentType: read.contentType,
        size: read.bytes.byteLength,
      });
    });
  }

  private showBinary(next: ActiveBinary | null): void {
    const previous = this.activeBinary.value;
    if (previous !== null && previous.url !== next?.url) URL.revokeObjectURL(previous.url);
    this.activeBinary.value = next;
  }

  private setStatus(status: SessionStatus): void {
    batch(() => {
      if (status !== 'offline') this.unsyncedOffline.value = false;
      this.status.value = status;
      this.queue.value = this.session.queuedOps();
    });
  }

  private onTree(change: TreeChange | null): void {
    this.tellAboutOpenFiles(change);
    const files = this.session.tree();
    const present = new Set(files.map((f) => f.id));
    batch(() => {
      this.tree.value = files;
      for (const id of this.openTabs.value) if (!present.has(id)) this.closeTab(id);
    });
    for (const id of [...this.texts.keys()]) if (!present.has(id)) this.texts.delete(id);
    // A rename can change the language (App.js → App.jsx): rebuild the view of the active file.
    const active = this.active.value;
    if (change?.kind === 'renamed' && active !== null && change.moves.some((m) => m.id === active)) {
      void this.showDocument(active);
    }
    // New bytes of the binary file on screen: show them.
    if (change?.kind === 'replaced' && change.file.id === active) void this.showDocument(active);
  }

  /**
   * Someone else renamed or deleted a file this user has open: say so (the tab follows a rename,
   * since tabs hold file ids; a deleted file's tab closes). This user's own operations are quiet.
   */
  private tellAboutOpenFiles(change: TreeChange | null): void {
    // A new file, or new bytes of a binary file, renames or deletes nothing.
    if (change === null || change.kind === 'created' || change.kind === 'replaced') return;
    const open = new Set(this.openTabs.value);
    const kind = change.kind === 'renamed' ? 'rename' : 'delete';
    const paths = change.kind === 'renamed' ? change.moves.map((m) => m.from) : change.files.map((f) => f.path);
    const own = [...this.ownOps].find((op) => {
      if (!op.startsWith(`${kind}:`)) return false;
      const target = op.slice(kind.length + 1);
      return paths.some((p) => p === target || p.startsWith(`${target}/`));
    });
    if (own !== undefined) {
      this.ownOps.delete(own);
      return;
    }
    if (change.kind === 'renamed') {
      for (const move of change.moves) {
        if (open.has(move.id))
          toast(`${move.from} was renamed to ${move.to} by someone else; its tab follows it.`, 'info', 6000);
      }
    } else {
      for (const file of change.files) {
        if (open.has(file.id)) toast(`${file.path} was deleted by someone else; its tab was closed.`, 'error', 8000);
      }
    }
  }

  /** Switches the panel area that holds `id` to it (and opens the side panels' drawer on a narrow screen). */
  showPanel(id: string): void {
    this.panelRequest.value = { id, seq: (this.panelRequest.value?.seq ?? 0) + 1 };
    this.sidePanelsOpen.value = true;
  }

  /** Copies this project into a new one this user owns (edits not yet saved included) and opens it. */
  async fork(): Promise<void> {
    try {
      const { shard } = await this.rest.forkShard(this.session.shardId);
      location.assign(`/s/${shard.id}`);
    } catch (error) {
      toast(messageOf(error), 'error');
    }
  }

  // ---- file operations ----------------------------------------------------------------------

  async createFile(prefix: string): Promise<void> {
    let path = await promptText('New file (path from the project root)', prefix, 'Create');
    // A name that exists: ask again with what was typed, saying why (nothing typed is lost).
    for (;;) {
      if (path === null) return;
      const wanted = normalizePath(path);
      if (!wanted.ok || this.session.fileId(wanted.path) === undefined) break;
      path = await promptText(
        'New file (path from the project root)',
        path,
        'Create',
        `${wanted.path} already exists. Choose another name, or cancel and open it from the tree.`,
      );
    }
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

  /**
   * Uploads files dropped on the tree into `folder` ('' for the root): text files (by type or
   * name) become collaborative documents, everything else binary files (an existing binary file
   * at the path gets the new bytes). Each outcome is a toast.
   */
  async uploadFiles(files: readonly File[], folder: string): Promise<void> {
    if (!this.canWrite) {
      toast('You can only view this project.', 'error');
      return;
    }
    for (const file of files) {
      const path = folder === '' ? file.name : `${folder}/${file.name}`;
      try {
        if (isTextUpload(file)) {
          await this.session.createFile(path, await file.text());
        } else {
          await this.rest.uploadFile(this.session.shardId, path, file, file.type || 'application/octet-stream');
        }
        toast(`Uploaded ${path}`);
      } catch (error) {
        toast(`${path}: ${uploadFailure(error)}`, 'error');
      }
    }
  }

  async createFolder(): Promise<void> {
    const path = await promptText('New folder', '', 'Create');
    if (path === null) return;
    await this.session
      .createFile(`${path.replace(/\/+$/, '')}/${FOLDER_PLACEHOLDER}`)
      .catch((error: unknown) => this.upFront(error));
  }

  async renamePath(path: string, kind: 'file' | 'folder'): Promise<void> {
    const target = await promptText(
      kind === 'folder' ? 'Rename or move folder' : 'Rename or move file',
      path,
      'Rename',
    );
    if (target === null || target === path) return;
    this.ownOps.add(`rename:${path}`);
    await this.session.rename(path, target).catch((error: unknown) => this.upFront(error));
  }

  async deletePath(path: string, kind: 'file' | 'folder'): Promise<void> {
    const ok = await confirmAction(
      kind === 'folder' ? `Delete the folder ${path} and every file in it?` : `Delete ${path}?`,
    );
    if (!ok) return;
    this.ownOps.add(`delete:${path}`);
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

  // ---- notices ------------------------------------------------------------------------------

  /** Shows a banner (replacing the one with the same key). */
  showNotice(notice: Notice): void {
    const list = this.notices.value;
    const index = list.findIndex((n) => n.key === notice.key);
    this.notices.value = index < 0 ? [...list, notice] : list.map((n, i) => (i === index ? notice : n));
  }

  dismissNotice(key: string): void {
    const notice = this.notices.value.find((n) => n.key === key);
    this.notices.value = this.notices.value.filter((n) => n.key !== key);
    notice?.onDismiss?.();
  }

  private onOpFailed(failure: TreeOpFailure): void {
    const path = failure.op.kind === 'rename' ? failure.op.to : failure.op.path;
    this.showNotice({
      key: `op:${failure.op.opId}`,
      kind: 'op-failed',
      message: failure.message,
      ...(failure.localText === undefined || failure.localText === ''
        ? {}
        : { text: failure.localText, fileName: path.slice(path.lastIndexOf('/') + 1) }),
    });
  }

  private onRefused(refusal: Refusal): void {
    this.shownAsRefusal.add(refusal.error);
    const path = refusal.path || this.pathOf(refusal.fileId);
    this.showNotice({
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
    if (this.active.value === fileId) void this.showDocument(fileId);
  }

  // ---- identity and presence ----------------------------------------------------------------

  /** The display name this user chose (kept for this browser). */
  rename(name: string): void {
    saveName(name);
    this.identity.value = { ...this.identity.value, name };
    this.session.setPresence({ user: this.identity.value });
  }

  /** Two people in one colour cannot tell their carets apart: the later one (higher client id) moves. */
  private avoidColorClash(): void {
    const me = this.session.awareness.clientID;
    const taken = new Set<string>();
    for (const [clientId, state] of this.session.awareness.getStates()) {
      const color = (state['user'] as Partial<Identity> | undefined)?.color;
      if (clientId !== me && clientId < me && color !== undefined) taken.add(color);
    }
    const next = freeColor(this.identity.value.color, taken);
    if (next === null) return;
    this.identity.value = withColor(this.identity.value, next);
    this.session.setPresence({ user: this.identity.value });
  }

  // ---- share and download -------------------------------------------------------------------

  /** A link that opens this project with a token of the given access. */
  async shareLink(access: 'read' | 'write'): Promise<string> {
    const { token } = await this.rest.shareToken(this.session.shardId, access);
    return `${location.origin}/s/${this.session.shardId}#token=${encodeURIComponent(token)}`;
  }

  async download(): Promise<void> {
    try {
      const blob = await this.rest.downloadZip(this.session.shardId);
      saveFile(blob, `${this.session.shard.name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'project'}.zip`);
    } catch (error) {
      toast(messageOf(error), 'error');
    }
  }
}

/** Extensions of files that are text even when the browser names no text type for them. */
const TEXT_EXTENSIONS = new Set(
  'js mjs cjs jsx ts mts cts tsx json md txt css scss less html htm vue svelte yml yaml toml xml csv env gitignore'.split(
    ' ',
  ),
);

function isTextUpload(file: File): boolean {
  if (file.type.startsWith('text/') || file.type === 'application/json' || file.type === 'application/javascript') {
    return true;
  }
  const dot = file.name.lastIndexOf('.');
  // By name too: browsers call a .ts file video/mp2t and most source files nothing at all.
  return dot >= 0 && TEXT_EXTENSIONS.has(file.name.slice(dot + 1).toLowerCase());
}

function uploadFailure(error: unknown): string {
  if (!(error instanceof TandemError)) return messageOf(error);
  switch (error.code) {
    case 'FILE_TOO_LARGE':
      return 'the file is larger than the server allows';
    case 'FILE_EXISTS':
      return 'a file or folder with that name exists';
    case 'FILE_KIND_MISMATCH':
      return 'a text file with that name exists; delete it first';
    default:
      return error.message;
  }
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

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
