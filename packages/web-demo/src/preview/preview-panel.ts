import { planImportMap, type ImportMap, type ShardSession } from '@tandem/client-sdk';
import type { FileId, TemplateSummary } from '@tandem/protocol';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import type * as Y from 'yjs';
import { debounce, h } from '../dom.js';
import type { ModuleMap, PreviewProblem } from './build-preview.js';
import { codeFrame } from './code-frame.js';
import type { PreviewRequest, PreviewResponse } from './compile-worker.js';
import { ConsoleView, type SourcePlace } from './console-view.js';
import { MODULE_PREFIX, type PreviewMessage } from './preview-runtime.js';

/** Wait after the last edit before rebuilding the preview, in ms. */
const PREVIEW_DEBOUNCE_MS = 300;

/** What the panel needs from the editor: where the preview runs, and how to show a place. */
export type PreviewPanelOptions = {
  /** Base URL of the esm.sh-compatible CDN. */
  cdnBaseUrl: string;
  /** Origin of the preview host page (a second port in development, PREVIEW_ORIGIN in production). */
  previewOrigin: string;
  /** Moves the editor's cursor to a place of the project (a click on an error). */
  reveal: (place: SourcePlace) => void;
};

/** An error shown over the preview, with its place when known. */
type OverlayError = { message: string; place?: SourcePlace; frame?: string };

/**
 * The live preview of a `static` or `browser` project: keeps every file of the shard open (so
 * edits by anyone show up), rebuilds the page in a Web Worker 300 ms after the last change, and
 * shows it in an iframe on the preview origin (apart from the editor's: project code gets its own
 * storage and cannot reach the editor's token, storage or DOM). Dependencies come from an import
 * map built from the live package.json's `dependencies` (the shard's stored ones if package.json
 * does not parse). Under it, the console of the page; over it, one overlay listing build errors
 * and run-time errors, each with its place (a click moves the editor's cursor there). A build
 * that fails keeps the last good page and its "Updated" time.
 */
export class PreviewPanel {
  readonly element: HTMLElement;
  private readonly frame: HTMLIFrameElement;
  private readonly warnings: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly overlay: HTMLElement;
  private readonly state: HTMLElement;
  private readonly console: ConsoleView;
  private readonly texts = new Map<FileId, { text: Y.Text; stop: () => void }>();
  private readonly worker: Worker;
  private readonly schedule = debounce(() => this.rebuild(), PREVIEW_DEBOUNCE_MS);
  private readonly detach: Array<() => void> = [];
  private readonly onMessage = (event: MessageEvent) => this.onFrameMessage(event);
  private requestId = 0;
  /** Problems found before the worker ran (package.json). */
  private pendingProblems: PreviewProblem[] = [];
  private builds = 0;
  private lastGood: Date | null = null;
  /** The document waiting for the preview host page of build `frameBuild` to say it is ready. */
  private pendingHtml: string | null = null;
  private frameBuild = 0;
  /** Files and source maps of the page on show, to place its run-time errors. */
  private shownFiles: Record<string, string> = {};
  private shownMaps: Record<string, ModuleMap> = {};
  private readonly traceMaps = new Map<string, TraceMap>();
  private buildErrors: OverlayError[] = [];
  private runtimeErrors: OverlayError[] = [];
  private offlineShown = false;
  private destroyed = false;

  constructor(
    private readonly session: ShardSession,
    private readonly template: Pick<TemplateSummary, 'entry' | 'framework'>,
    private readonly options: PreviewPanelOptions,
  ) {
    this.frame = h('iframe', {
      class: 'preview-frame',
      // Its own origin: same-origin here means the preview origin, never the editor's.
      sandbox: 'allow-scripts allow-same-origin allow-forms allow-modals allow-popups allow-downloads',
      title: 'Preview',
      'data-builds': '0',
    });
    this.warnings = h('div', { class: 'preview-problems', hidden: true, role: 'status' });
    this.notice = h('div', { class: 'preview-notice', hidden: true, role: 'alert' });
    this.overlay = h('div', { class: 'preview-overlay', hidden: true, role: 'alert' });
    this.state = h('span', { class: 'preview-state' }, 'Building…');
    this.console = new ConsoleView((place) => this.options.reveal(place));
    this.element = h(
      'section',
      { class: 'preview', 'aria-label': 'Preview' },
      h(
        'div',
        { class: 'pane-header' },
        h('span', { class: 'pane-title' }, 'Preview'),
        this.state,
        h(
          'button',
          { type: 'button', class: 'button small', onclick: () => this.rebuild(), title: 'Rebuild the preview' },
          'Reload',
        ),
      ),
      this.warnings,
      this.notice,
      h('div', { class: 'preview-stage' }, this.frame, this.overlay),
      this.console.element,
    );
    this.worker = new Worker(new URL('./compile-worker.ts', import.meta.url), {
      type: 'module',
      name: 'tandem-preview',
    });
    this.worker.addEventListener('message', (event: MessageEvent<PreviewResponse>) => this.onResult(event.data));
    this.worker.addEventListener('error', (event) =>
      this.showBuildErrors([{ message: `the preview worker failed: ${event.message}` }]),
    );
    addEventListener('message', this.onMessage);
  }

  /** Opens every file of the shard and builds the first preview. */
  start(): void {
    this.detach.push(this.session.on('tree', () => void this.openFiles()));
    void this.openFiles();
  }

  destroy(): void {
    this.destroyed = true;
    this.schedule.cancel();
    removeEventListener('message', this.onMessage);
    for (const off of this.detach) off();
    for (const { stop } of this.texts.values()) stop();
    this.texts.clear();
    this.worker.terminate();
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

  private rebuild(): void {
    if (this.destroyed) return;
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
    this.state.textContent = 'Building…';
    const request: PreviewRequest = {
      id: ++this.requestId,
      files,
      entry: this.template.entry,
      framework: this.template.framework,
      importMap,
      unusable,
    };
    this.worker.postMessage(request);
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
    this.showWarnings(problems.filter((p) => p.severity === 'warning'));
    if (errors.length > 0) {
      // The last good page stays (and keeps its time); the overlay says what to fix.
      this.showBuildErrors(errors.map(overlayErrorOf));
      this.markFailed();
      return;
    }
    this.buildErrors = [];
    this.runtimeErrors = [];
    this.renderOverlay();
    this.shownFiles = this.snapshot();
    this.shownMaps = result.maps;
    this.traceMaps.clear();
    this.load(result.html);
    this.lastGood = new Date();
    this.state.textContent = `Updated ${this.lastGood.toLocaleTimeString()}`;
  }

  private markFailed(): void {
    this.state.textContent =
      this.lastGood === null ? 'Build failed' : `Build failed · showing ${this.lastGood.toLocaleTimeString()}`;
  }

  /** A fresh document on the preview origin (a navigation: nothing of the last page survives). */
  private load(html: string): void {
    this.pendingHtml = html;
    this.frameBuild = ++this.builds;
    this.console.clear();
    this.notice.hidden = true;
    this.offlineShown = false;
    const url = new URL(this.options.previewOrigin);
    url.searchParams.set('tandem-build', String(this.frameBuild));
    this.frame.src = url.href;
  }

  private onFrameMessage(event: MessageEvent): void {
    if (event.source !== this.frame.contentWindow || event.origin !== new URL(this.options.previewOrigin).origin)
      return;
    const data = event.data as PreviewMessage | null;
    if (data === null || typeof data !== 'object' || data.tandem !== 'preview') return;
    if (data.build !== String(this.frameBuild)) return;
    switch (data.type) {
      case 'ready':
        if (this.pendingHtml === null) return;
        this.frame.contentWindow?.postMessage({ tandem: 'render', html: this.pendingHtml }, event.origin);
        this.pendingHtml = null;
        this.frame.dataset['builds'] = String(this.frameBuild);
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
        if (this.offlineShown) return;
        this.offlineShown = true;
        this.console.add({ level: 'warn', args: [{ t: 'string', v: data.message }] });
        this.notice.replaceChildren(
          h('span', {}, data.message),
          h('button', { type: 'button', class: 'button small', onclick: () => this.rebuild() }, 'Retry'),
        );
        this.notice.hidden = false;
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
    if (this.shownFiles[file] === undefined) return { message };
    const frame = codeFrame(this.shownFiles[file] ?? '', place.line, place.column);
    return { message, place, frame };
  }

  private addRuntimeError(error: OverlayError): void {
    const key = overlayKey(error);
    // A module that failed to build throws its problem when run: that is the build's error, not a second one.
    if (
      [...this.buildErrors, ...this.runtimeErrors].some(
        (e) => overlayKey(e) === key || error.message.includes(e.message),
      )
    )
      return;
    this.runtimeErrors.push(error);
    this.renderOverlay();
  }

  private showBuildErrors(errors: OverlayError[]): void {
    this.buildErrors = errors;
    this.runtimeErrors = [];
    this.renderOverlay();
  }

  private showWarnings(problems: PreviewProblem[]): void {
    this.warnings.hidden = problems.length === 0;
    this.warnings.replaceChildren(...problems.map((p) => h('div', { class: 'problem' }, p.message)));
  }

  private renderOverlay(): void {
    const errors = [...this.buildErrors, ...this.runtimeErrors];
    this.overlay.hidden = errors.length === 0;
    if (errors.length === 0) {
      this.overlay.replaceChildren();
      return;
    }
    const title = this.buildErrors.length > 0 ? 'Failed to build' : 'Error in the preview';
    this.overlay.replaceChildren(
      h(
        'div',
        { class: 'overlay-header' },
        h('strong', {}, title),
        this.buildErrors.length > 0
          ? ''
          : h(
              'button',
              {
                type: 'button',
                class: 'button small',
                title: 'Hide (the console keeps the errors)',
                onclick: () => {
                  this.runtimeErrors = [];
                  this.renderOverlay();
                },
              },
              'Dismiss',
            ),
      ),
      ...errors.map((error) => {
        const place = error.place;
        return h(
          'div',
          { class: 'overlay-error' },
          h('div', { class: 'overlay-message' }, error.message),
          place === undefined
            ? ''
            : h(
                'button',
                {
                  type: 'button',
                  class: 'overlay-place',
                  title: 'Show in the editor',
                  onclick: () => this.options.reveal(place),
                },
                `${place.file}:${place.line}:${place.column}`,
              ),
          error.frame === undefined ? '' : h('pre', { class: 'overlay-frame' }, error.frame),
        );
      }),
    );
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

/** The panel shown instead of a preview for `node` templates (the Node template: a server). */
export function nodeRuntimeNotice(templateTitle: string, download: () => void): HTMLElement {
  return h(
    'section',
    { class: 'preview preview-unsupported', 'aria-label': 'Preview' },
    h('div', { class: 'pane-header' }, h('span', { class: 'pane-title' }, 'Preview')),
    h(
      'div',
      { class: 'notice' },
      h('h3', {}, 'This project needs a Node runtime'),
      h(
        'p',
        {},
        `${templateTitle} projects run on Node.js (a dev server and a build step), which the browser preview does not provide. `,
        'Download the project and run it locally: ',
      ),
      h('pre', {}, 'npm install\nnpm run dev'),
      h('button', { type: 'button', class: 'button primary', onclick: download }, 'Download .zip'),
    ),
  );
}
