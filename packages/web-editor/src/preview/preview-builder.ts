import { signal } from '@preact/signals';
import { buildImportMap, type ImportMap, type ShardSession } from '@tandem/client-sdk';
import type { FileId, TemplateSummary } from '@tandem/protocol';
import type * as Y from 'yjs';
import { debounce } from '../ui/index.js';
import type { PreviewRequest, PreviewResponse } from './compile-worker.js';

/** Wait after the last edit before rebuilding the preview, in ms. */
const PREVIEW_DEBOUNCE_MS = 300;

/**
 * The live preview of a `static` or `browser` project: keeps every file of the shard open (so
 * edits by anyone show up) and rebuilds the page in a Web Worker 300 ms after the last change.
 * Dependencies come from an import map built from the live package.json's `dependencies` (the
 * shard's stored ones if package.json does not parse). The results are signals the panel shows.
 */
export class PreviewBuilder {
  /** The built page (null before the first build). */
  readonly html = signal<string | null>(null);
  readonly builds = signal(0);
  readonly problems = signal<string[]>([]);
  readonly state = signal('Building…');
  private readonly texts = new Map<FileId, { text: Y.Text; stop: () => void }>();
  private worker: Worker | null = null;
  private readonly schedule = debounce(() => this.rebuild(), PREVIEW_DEBOUNCE_MS);
  private readonly detach: Array<() => void> = [];
  private requestId = 0;
  /** Problems found before the worker ran (package.json, import map), shown with the worker's. */
  private pendingProblems: string[] = [];
  private destroyed = false;

  constructor(
    private readonly session: ShardSession,
    private readonly template: Pick<TemplateSummary, 'entry' | 'framework'>,
    private readonly cdnBaseUrl: string,
  ) {}

  /** Starts the worker, opens every file of the shard and builds the first preview. */
  start(): void {
    const worker = new Worker(new URL('./compile-worker.ts', import.meta.url), {
      type: 'module',
      name: 'tandem-preview',
    });
    worker.addEventListener('message', (event: MessageEvent<PreviewResponse>) => this.onResult(event.data));
    worker.addEventListener(
      'error',
      (event) => (this.problems.value = [`the preview worker failed: ${event.message}`]),
    );
    this.worker = worker;
    this.detach.push(this.session.on('tree', () => void this.openFiles()));
    void this.openFiles();
  }

  destroy(): void {
    this.destroyed = true;
    this.schedule.cancel();
    for (const off of this.detach) off();
    for (const { stop } of this.texts.values()) stop();
    this.texts.clear();
    this.worker?.terminate();
  }

  /** Builds now (the Reload button). */
  rebuild(): void {
    if (this.destroyed || this.worker === null) return;
    const files = this.snapshot();
    const problems: string[] = [];
    let importMap: ImportMap = { imports: {} };
    try {
      importMap = buildImportMap(dependenciesOf(files, this.session.shard.dependencies, problems), {
        cdnBaseUrl: this.cdnBaseUrl,
      });
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    this.pendingProblems = problems;
    this.state.value = 'Building…';
    const request: PreviewRequest = {
      id: ++this.requestId,
      files,
      entry: this.template.entry,
      framework: this.template.framework,
      importMap,
    };
    this.worker.postMessage(request);
  }

  private async openFiles(): Promise<void> {
    const present = new Set(this.session.tree().map((f) => f.id));
    for (const [id, entry] of this.texts) {
      if (present.has(id)) continue;
      entry.stop();
      this.texts.delete(id);
    }
    await Promise.all(
      this.session.tree().map(async (file) => {
        if (this.texts.has(file.id)) return;
        try {
          const text = await this.session.openFile(file.id);
          if (this.destroyed || this.texts.has(file.id)) return;
          const onChange = () => this.schedule();
          text.observe(onChange);
          this.texts.set(file.id, { text, stop: () => text.unobserve(onChange) });
        } catch {
          // Deleted meanwhile: the next tree event drops it.
        }
      }),
    );
    this.schedule();
  }

  private snapshot(): Record<string, string> {
    // Collected in a Map: assigning `files[path]` would set the prototype for a file named `__proto__`.
    const files = new Map<string, string>();
    for (const file of this.session.tree()) {
      const entry = this.texts.get(file.id);
      if (entry !== undefined) files.set(file.path, entry.text.toString());
    }
    return Object.fromEntries(files);
  }

  private onResult(result: PreviewResponse): void {
    if (result.id !== this.requestId || this.destroyed) return;
    if ('error' in result) {
      this.problems.value = [...this.pendingProblems, result.error];
      this.state.value = 'Failed';
      return;
    }
    this.problems.value = [...this.pendingProblems, ...result.problems];
    this.html.value = result.html;
    this.builds.value++;
    this.state.value = `Updated ${new Date().toLocaleTimeString()}`;
  }
}

/**
 * The runtime dependencies of the live package.json, else the shard's stored ones. A package.json
 * that does not parse while someone is typing in it keeps the preview on the stored set.
 */
function dependenciesOf(
  files: Record<string, string>,
  stored: Record<string, string>,
  problems: string[],
): Record<string, string> {
  const text = files['package.json'];
  if (text === undefined) return stored;
  try {
    const parsed = JSON.parse(text) as { dependencies?: unknown };
    const deps = parsed.dependencies;
    if (deps === undefined) return {};
    if (typeof deps !== 'object' || deps === null || Array.isArray(deps))
      throw new Error('"dependencies" is not an object');
    return Object.fromEntries(Object.entries(deps).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch (error) {
    problems.push(
      `package.json: ${error instanceof Error ? error.message : String(error)} (using the saved dependencies)`,
    );
    return stored;
  }
}
