import { batch, signal } from '@preact/signals';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import { planImportMap, type ImportMap, type ShardSession } from '@tandem/client-sdk';
import type { FileEntry, FileId, TemplateSummary, TreeChange } from '@tandem/protocol';
import type * as Y from 'yjs';
import { debounce } from '../ui/index.js';
import type { ModuleMap, PreviewProblem } from './build-preview.js';
import { codeFrame } from './code-frame.js';
import type { PreviewRequest, PreviewResponse } from './compile-worker.js';
import { ConsoleLog, type SourcePlace } from './console-log.js';
import { MODULE_PREFIX, type PreviewMessage } from './preview-runtime.js';

/** Wait after the last edit before rebuilding the preview, in ms. */
const PREVIEW_DEBOUNCE_MS = 300;

/** Where the preview runs and loads packages from. */
export type PreviewOptions = {
  /** Base URL of the esm.sh-compatible CDN. */
  cdnBaseUrl: string;
  /** Origin of the preview host page (a second port in development, PREVIEW_ORIGIN in production). */
  previewOrigin: string;
};

/** An error shown over the preview, with its place when known. */
export type OverlayError = { message: string; place?: SourcePlace; frame?: string };

/**
 * The live preview of a `static` or `browser` project: keeps every file of the shard open (so
 * edits by anyone show up), rebuilds the page in a Web Worker 300 ms after the last change, and
 * loads it into the iframe it is given, on the preview origin (apart from the editor's: project
 * code gets its own storage and cannot reach the editor's token, storage or DOM). Dependencies
 * come from an import map built from the live package.json's `dependencies` (the shard's stored
 * ones if package.json does not parse). What the panel shows are signals: the state line,
 * warnings, one list of errors for the overlay (the build's, or the page's with their places in
 * the source), a notice when the CDN is unreachable, and the console. A build that fails keeps
 * the last good page and its "Updated" time.
 */
export class PreviewBuilder {
  readonly state = signal('Building…');
  /** Problems that do not stop the preview (package.json). */
  readonly warnings = signal<PreviewProblem[]>([]);
  /** What the overlay lists: the build's errors, else the page's. */
  readonly errors = signal<{ build: boolean; list: OverlayError[] }>({ build: false, list: [] });
  /** The CDN cannot be reached (said once per page). */
  readonly notice = signal<string | null>(null);
  /** How many pages were loaded into the frame (tests wait on it: `data-builds`). */
  readonly builds = signal(0);
  readonly console = new ConsoleLog();

  private readonly texts = new Map<FileId, { text: Y.Text; stop: () => void }>();
  /** Binary files (images, fonts) as data: URLs, read over REST; a replaced one is read again. */
  private readonly binaries = new Map<FileId, string>();
  private worker: Worker | null = null;
  private frame: HTMLIFrameElement | null = null;
  private readonly schedule = debounce(() => this.rebuild(), PREVIEW_DEBOUNCE_MS);
  private readonly detach: Array<() => void> = [];
  private readonly onMessage = (event: MessageEvent) => this.onFrameMessage(event);
  private requestId = 0;
  private pendingProblems: PreviewProblem[] = [];
  private lastGood: Date | null = null;
  /** The document waiting for the preview host page of build `frameBuild` to say it is ready. */
  private pendingHtml: string | null = null;
  private frameBuild = 0;
  /** Files and source maps of the page on show, to place its run-time errors. */
  private shownFiles: Record<string, string> = {};
  private shownMaps: Record<string, ModuleMap> = {};
  private readonly traceMaps = new Map<string, TraceMap>();
  private destroyed = false;

  constructor(
    private readonly session: ShardSession,
    private readonly template: Pick<TemplateSummary, 'entry' | 'framework'>,
    private readonly options: PreviewOptions,
    /** Reads a binary file's bytes (TandemRest.readBinaryFile for this shard). */
    private readonly readBinary: (path: string) => Promise<{ bytes: Uint8Array; contentType: string }>,
  ) {}

  /** Starts the worker, opens every file of the shard and builds the first preview into `frame`. */
  start(frame: HTMLIFrameElement): void {
    this.frame = frame;
    const worker = new Worker(new URL('./compile-worker.ts', import.meta.url), {
      type: 'module',
      name: 'tandem-preview',
    });
    worker.addEventListener('message', (event: MessageEvent<PreviewResponse>) => this.onResult(event.data));
    worker.addEventListener('error', (event) =>
      this.showBuildErrors([{ message: `the preview worker failed: ${event.message}` }]),
    );
    this.worker = worker;
    addEventListener('message', this.onMessage);
    this.detach.push(
      this.session.on('tree', (_files, change) => {
        if (change !== null) this.forgetReplaced(change);
        void this.openFiles();
      }),
    );
    void this.openFiles();
  }

  destroy(): void {
    this.destroyed = true;
    this.schedule.cancel();
    removeEventListener('message', this.onMessage);
    for (const off of this.detach) off();
    for (const { stop } of this.texts.values()) stop();
    this.texts.clear();
    this.worker?.terminate();
  }

  /** Builds now (the Reload and Retry buttons). */
  rebuild(): void {
    if (this.destroyed || this.worker === null) return;
    const files = this.snapshot();
    const problems: PreviewProblem[] = [];
    let importMap: ImportMap = { imports: {} };
    const unusable: Record<string, string> = {};
    try {
      const plan = planImportMap(dependenciesOf(files, this.session.shard.dependencies, problems), {
        cdnBaseUrl: this.options.cdnBaseUrl,
      });
      importMap = plan.importMap;
      for (const u of plan.unusable) unusable[u.name] = u.reason;
    } catch (error) {
      problems.push({ message: error instanceof Error ? error.message : String(error), severity: 'error' });
    }
    this.pendingProblems = problems;
    this.state.value = 'Building…';
    const request: PreviewRequest = {
      id: ++this.requestId,
      files,
      binaryFiles: this.binarySnapshot(),
      entry: this.template.entry,
      framework: this.template.framework,
      importMap,
      unusable,
    };
    this.worker.postMessage(request);
  }

  /** Hides the page's errors (the console keeps them). */
  dismissErrors(): void {
    if (!this.errors.value.build) this.errors.value = { build: false, list: [] };
  }

  private async openFiles(): Promise<void> {
    const present = new Set(this.session.tree().map((f) => f.id));
    for (const [id, entry] of this.texts) {
      if (present.has(id)) continue;
      entry.stop();
      this.texts.delete(id);
    }
    for (const id of this.binaries.keys()) if (!present.has(id)) this.binaries.delete(id);
    await Promise.all(
      this.session.tree().map(async (file) => {
        if (file.kind === 'binary') return this.readBinaryFile(file);
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

  private forgetReplaced(change: TreeChange): void {
    if (change.kind === 'replaced') this.binaries.delete(change.file.id);
  }

  private async readBinaryFile(file: FileEntry): Promise<void> {
    if (this.binaries.has(file.id)) return;
    try {
      const { bytes, contentType } = await this.readBinary(file.path);
      if (this.destroyed) return;
      this.binaries.set(file.id, await toDataUrl(bytes, contentType));
    } catch {
      // Deleted or renamed meanwhile: the next tree event reads it again under its new path.
    }
  }

  private binarySnapshot(): Record<string, string> {
    const files = new Map<string, string>();
    for (const file of this.session.tree()) {
      const url = this.binaries.get(file.id);
      if (url !== undefined) files.set(file.path, url);
    }
    return Object.fromEntries(files);
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
      this.showBuildErrors([{ message: result.error }]);
      this.markFailed();
      return;
    }
    const problems = [...this.pendingProblems, ...result.problems];
    const errors = problems.filter((p) => p.severity === 'error');
    this.warnings.value = problems.filter((p) => p.severity === 'warning');
    if (errors.length > 0) {
      // The last good page stays (and keeps its time); the overlay says what to fix.
      this.showBuildErrors(errors.map(overlayErrorOf));
      this.markFailed();
      return;
    }
    this.shownFiles = this.snapshot();
    this.shownMaps = result.maps;
    this.traceMaps.clear();
    this.lastGood = new Date();
    batch(() => {
      this.errors.value = { build: false, list: [] };
      this.state.value = `Updated ${this.lastGood?.toLocaleTimeString() ?? ''}`;
      this.load(result.html);
    });
  }

  private markFailed(): void {
    this.state.value =
      this.lastGood === null ? 'Build failed' : `Build failed · showing ${this.lastGood.toLocaleTimeString()}`;
  }

  /** A fresh document on the preview origin (a navigation: nothing of the last page survives). */
  private load(html: string): void {
    if (this.frame === null) return;
    this.pendingHtml = html;
    this.frameBuild++;
    this.console.clear();
    this.notice.value = null;
    const url = new URL(this.options.previewOrigin);
    url.searchParams.set('tandem-build', String(this.frameBuild));
    this.frame.src = url.href;
  }

  private onFrameMessage(event: MessageEvent): void {
    const frame = this.frame;
    if (frame === null || event.source !== frame.contentWindow) return;
    if (event.origin !== new URL(this.options.previewOrigin).origin) return;
    const data = event.data as PreviewMessage | null;
    if (data === null || typeof data !== 'object' || data.tandem !== 'preview') return;
    if (data.build !== String(this.frameBuild)) return;
    switch (data.type) {
      case 'ready':
        if (this.pendingHtml === null) return;
        frame.contentWindow?.postMessage({ tandem: 'render', html: this.pendingHtml }, event.origin);
        this.pendingHtml = null;
        this.builds.value = this.frameBuild;
        return;
      case 'console':
        this.console.add({ level: data.level, args: data.args });
        return;
      case 'error': {
        const error = this.placeRuntimeError(data.message, data.stack);
        this.console.add({
          level: 'error',
          args: [{ t: 'string', v: error.message }],
          ...(error.place === undefined ? {} : { place: error.place }),
        });
        this.addRuntimeError(error);
        return;
      }
      case 'dependency':
        this.console.add({ level: 'error', args: [{ t: 'string', v: data.message }] });
        this.addRuntimeError({ message: data.message });
        return;
      case 'offline':
        if (this.notice.value !== null) return;
        this.console.add({ level: 'warn', args: [{ t: 'string', v: data.message }] });
        this.notice.value = data.message;
        return;
    }
  }

  /** The place of a run-time error in the project's source: its first project frame, mapped back. */
  private placeRuntimeError(message: string, stack: string): OverlayError {
    const pattern = new RegExp(`${escapeRegExp(MODULE_PREFIX)}([^\\s()?]+)(?:\\?[^\\s():]*)?:(\\d+):(\\d+)`);
    const match = pattern.exec(stack) ?? pattern.exec(message);
    if (match === null) return { message };
    const [, file = '', lineText = '0', columnText = '0'] = match;
    let place: SourcePlace = { file, line: Number(lineText), column: Number(columnText) };
    const moduleMap = this.shownMaps[`${MODULE_PREFIX}${file}`];
    if (moduleMap !== undefined) {
      let trace = this.traceMaps.get(file);
      if (trace === undefined) {
        trace = new TraceMap(moduleMap.map as ConstructorParameters<typeof TraceMap>[0]);
        this.traceMaps.set(file, trace);
      }
      const original = originalPositionFor(trace, {
        line: place.line - moduleMap.lineOffset,
        column: Math.max(0, place.column - 1),
      });
      if (original.line !== null) place = { file, line: original.line, column: original.column + 1 };
    }
    const source = this.shownFiles[file];
    if (source === undefined) return { message };
    return { message, place, frame: codeFrame(source, place.line, place.column) };
  }

  private addRuntimeError(error: OverlayError): void {
    const current = this.errors.value;
    // A module that failed to build throws its problem when run: that is the build's error, not a second one.
    if (current.build) return;
    const key = overlayKey(error);
    if (current.list.some((e) => overlayKey(e) === key || error.message.includes(e.message))) return;
    this.errors.value = { build: false, list: [...current.list, error] };
  }

  private showBuildErrors(errors: OverlayError[]): void {
    this.errors.value = { build: true, list: errors };
  }
}

function overlayErrorOf(problem: PreviewProblem): OverlayError {
  const place =
    problem.file !== undefined && problem.line !== undefined && problem.column !== undefined
      ? { file: problem.file, line: problem.line, column: problem.column }
      : undefined;
  return {
    message: problem.message,
    ...(place === undefined ? {} : { place }),
    ...(problem.frame === undefined ? {} : { frame: problem.frame }),
  };
}

function overlayKey(error: OverlayError): string {
  return JSON.stringify([error.message, error.place]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The runtime dependencies of the live package.json, else the shard's stored ones. A package.json
 * that does not parse while someone is typing in it keeps the preview on the stored set.
 */
function dependenciesOf(
  files: Record<string, string>,
  stored: Record<string, string>,
  problems: PreviewProblem[],
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
    problems.push({
      message: `package.json: ${error instanceof Error ? error.message : String(error)} (using the saved dependencies)`,
      file: 'package.json',
      severity: 'warning',
    });
    return stored;
  }
}

/** Bytes as a data: URL (read by the browser, off the main thread's JavaScript). */
function toDataUrl(bytes: Uint8Array, contentType: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(
      new Blob([bytes as Uint8Array<ArrayBuffer>], { type: contentType.split(';')[0] ?? contentType }),
    );
  });
}
