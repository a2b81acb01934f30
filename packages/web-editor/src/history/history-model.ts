import { batch, signal } from '@preact/signals';
import { TandemError } from '@tandem/client-sdk';
import type { CheckpointDetail, CheckpointedEvent, CheckpointSummary, FileDiff, RestoredEvent } from '@tandem/protocol';
import type { EditorStore } from '../editor/editor-store.js';
import { confirmAction, promptText, toast } from '../ui/index.js';

/** One row of a checkpoint's file list: a file then, or one added since; how it differs from now. */
export type HistoryFile = {
  /** The path at the checkpoint (for a file added since: its path now). */
  path: string;
  /** Its path now, when it differs (renamed) or null when it is gone. */
  pathNow: string | null;
  status: FileDiff['status'] | 'unchanged';
  inCheckpoint: boolean;
  /** A binary file (an image, a font): compared by its bytes, not shown side by side. */
  binary: boolean;
};

/** The two sides of the side-by-side diff. */
export type Comparison = {
  path: string;
  pathNow: string | null;
  before: string | null;
  now: string | null;
  /** A binary file: `before`/`now` are null and the panel says whether its bytes changed. */
  binary?: { inCheckpoint: boolean; changed: boolean };
};

const PAGE = 30;

/** What a checkpoint is called in the timeline. */
export function checkpointTitle(cp: CheckpointSummary): string {
  if (cp.label !== null) return cp.label;
  switch (cp.reason) {
    case 'created':
      return 'Project created';
    case 'interval':
      return 'Autosaved version';
    case 'leave':
      return 'When everyone left';
    case 'named':
      return 'Named version';
    case 'before-restore':
      return 'Before a restore';
    case 'before-delete':
      return 'Before files were deleted';
  }
}

/**
 * The History panel's state: the timeline of checkpoints (newest first, page by page), the
 * selected one with its files and how each differs from now, and the file shown side by side.
 * Restores and "Name this version" go through the REST API; the room's `restored` notice
 * refreshes every open panel, and its `checkpointed` notice adds each new checkpoint (anyone's
 * named version, an automatic one) to the timeline as it is recorded.
 */
export class HistoryModel {
  readonly checkpoints = signal<CheckpointSummary[]>([]);
  readonly nextBefore = signal<number | null>(null);
  readonly selected = signal<CheckpointDetail | null>(null);
  readonly files = signal<HistoryFile[]>([]);
  readonly comparison = signal<Comparison | null>(null);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  private detach: Array<() => void> = [];

  constructor(private readonly store: EditorStore) {}

  get canWrite(): boolean {
    return this.store.canWrite;
  }

  start(): void {
    this.detach = [
      this.store.session.on('restored', (event) => this.onRestored(event)),
      this.store.session.on('checkpointed', (event) => this.onCheckpointed(event)),
    ];
    void this.refresh();
  }

  dispose(): void {
    for (const stop of this.detach) stop();
    this.detach = [];
  }

  private get shardId(): string {
    return this.store.session.shardId;
  }

  /** Reloads the first page (and the selected checkpoint's comparison with now). */
  async refresh(): Promise<void> {
    await this.run(async () => {
      const page = await this.store.rest.listCheckpoints(this.shardId, { limit: PAGE });
      batch(() => {
        this.checkpoints.value = page.checkpoints;
        this.nextBefore.value = page.nextBefore;
      });
      const selected = this.selected.value;
      if (selected !== null) await this.load(selected.seq, this.comparison.value?.path ?? null);
    });
  }

  async loadMore(): Promise<void> {
    const before = this.nextBefore.value;
    if (before === null) return;
    await this.run(async () => {
      const page = await this.store.rest.listCheckpoints(this.shardId, { limit: PAGE, before });
      batch(() => {
        this.checkpoints.value = [...this.checkpoints.value, ...page.checkpoints];
        this.nextBefore.value = page.nextBefore;
      });
    });
  }

  async select(seq: number): Promise<void> {
    await this.run(() => this.load(seq, null));
  }

  async showFile(file: HistoryFile): Promise<void> {
    await this.run(() => this.showFileNow(file));
  }

  async nameVersion(): Promise<void> {
    const label = await promptText('Name this version', '', 'Save');
    if (label === null || label.trim() === '') return;
    await this.run(async () => {
      const { checkpoint } = await this.store.rest.nameVersion(this.shardId, label);
      toast(`Saved version “${checkpoint.label ?? label}”`);
      await this.refresh();
    });
  }

  async restoreFile(file: HistoryFile): Promise<void> {
    const cp = this.selected.value;
    if (cp === null || !file.inCheckpoint) return;
    const ok = await confirmAction(
      `Restore ${file.path} as it was in “${checkpointTitle(cp)}”? Everyone sees the change; you can undo it from the history.`,
      'Restore file',
    );
    if (!ok) return;
    await this.run(async () => {
      await this.store.rest.restoreCheckpoint(this.shardId, cp.seq, { path: file.path });
      await this.refresh();
    });
  }

  async restoreAll(): Promise<void> {
    const cp = this.selected.value;
    if (cp === null) return;
    const ok = await confirmAction(
      `Restore the whole project to “${checkpointTitle(cp)}”? Files added since are removed; everyone sees the change; you can undo it from the history.`,
      'Restore project',
    );
    if (!ok) return;
    await this.run(async () => {
      await this.store.rest.restoreCheckpoint(this.shardId, cp.seq);
      await this.refresh();
    });
  }

  private async load(seq: number, keepPath: string | null): Promise<void> {
    const rest = this.store.rest;
    const [{ checkpoint }, diff] = await Promise.all([
      rest.getCheckpoint(this.shardId, seq),
      rest.diffCheckpoint(this.shardId, seq, { to: 'now' }),
    ]);
    const byOldPath = new Map<string, FileDiff>();
    const added: HistoryFile[] = [];
    for (const entry of diff.files) {
      if (entry.status === 'added')
        added.push({
          path: entry.path,
          pathNow: entry.path,
          status: 'added',
          inCheckpoint: false,
          binary: entry.binary === true,
        });
      else byOldPath.set(entry.oldPath ?? entry.path, entry);
    }
    const files: HistoryFile[] = checkpoint.files.map((f) => {
      const entry = byOldPath.get(f.path);
      const binary = f.kind === 'binary' || entry?.binary === true;
      if (entry === undefined)
        return { path: f.path, pathNow: f.path, status: 'unchanged', inCheckpoint: true, binary };
      return {
        path: f.path,
        pathNow: entry.status === 'removed' ? null : entry.path,
        status: entry.status,
        inCheckpoint: true,
        binary,
      };
    });
    batch(() => {
      this.selected.value = checkpoint;
      this.files.value = [...files, ...added];
      if (keepPath === null) this.comparison.value = null;
    });
    const again = keepPath === null ? undefined : this.files.value.find((f) => f.path === keepPath);
    if (again !== undefined) await this.showFileNow(again);
  }

  private async showFileNow(file: HistoryFile): Promise<void> {
    const seq = this.selected.value?.seq;
    if (seq === undefined) return;
    if (file.binary) {
      // Bytes are not diffed: the panel says whether they changed (the diff compared them).
      this.comparison.value = {
        path: file.path,
        pathNow: file.pathNow,
        before: null,
        now: null,
        binary: { inCheckpoint: file.inCheckpoint, changed: file.status !== 'unchanged' && file.status !== 'renamed' },
      };
      return;
    }
    const rest = this.store.rest;
    const [before, now] = await Promise.all([
      file.inCheckpoint ? rest.readCheckpointFile(this.shardId, seq, file.path).then((r) => r.content) : null,
      file.pathNow === null ? null : rest.readFile(this.shardId, file.pathNow).then((r) => r.content),
    ]);
    this.comparison.value = { path: file.path, pathNow: file.pathNow, before, now };
  }

  private onRestored(event: RestoredEvent): void {
    const what = event.path ?? 'the whole project';
    toast(`${event.by.name} restored ${what} to version ${event.checkpoint} (undo: restore version ${event.before})`);
    void this.refresh();
  }

  /** A checkpoint recorded anywhere: into the timeline, newest first (once, whoever listed it first). */
  private onCheckpointed(event: CheckpointedEvent): void {
    const checkpoint = event.checkpoint;
    const others = this.checkpoints.value.filter((c) => c.seq !== checkpoint.seq);
    this.checkpoints.value = [checkpoint, ...others].sort((a, b) => b.seq - a.seq);
  }

  /** Runs one action with the busy flag; a refusal is shown in the panel and as a toast. */
  private async run(action: () => Promise<void>): Promise<void> {
    this.busy.value = true;
    this.error.value = null;
    try {
      await action();
    } catch (error) {
      const message = error instanceof TandemError ? error.message : String(error);
      this.error.value = message;
      toast(message, 'error');
    } finally {
      this.busy.value = false;
    }
  }
}
