import { init as initLexer, parse as parseModule } from 'es-module-lexer';
import type { ImportMap } from '@tandem/client-sdk';
import {
  compileAngular,
  compileScript,
  compileSvelte,
  compileVue,
  type CompiledModule,
  type JsxMode,
  type SourceMap,
} from './compilers.js';
import { codeFrame } from './code-frame.js';
import { NEXT_COVERED, NEXT_SHIMS, nextEntry, nextRoutes } from './next-shims.js';
import { MODULE_PREFIX, runtimeScript } from './preview-runtime.js';
import {
  dataUrl,
  dirname,
  extension,
  isExternalUrl,
  isRelativeSpecifier,
  joinPath,
  mimeType,
  resolveProjectPath,
} from './project-paths.js';

/** What the preview is built from: a snapshot of the project. */
export type PreviewInput = {
  /** Every text file of the shard, path → content. */
  files: Record<string, string>;
  /**
   * Every binary file of the shard (images, fonts), path → its bytes as a data: URL. They answer
   * like text assets: `<img src="logo.png">`, `url(font.woff2)`, `import logo from './logo.png'`.
   */
  binaryFiles?: Record<string, string>;
  /** The template's entry (`index.html` for Vite-shaped templates). */
  entry: string;
  /** Template framework (`react`, `preact`, `vue`, `svelte`, `solid`, `angular`, `next`, `none`…). */
  framework: string;
  /** Import map of the project's runtime dependencies (planImportMap); project modules are added. */
  importMap: ImportMap;
  /** Dependencies of package.json left out of the map, name → why (one problem line each). */
  unusable?: Record<string, string>;
};

/** Something wrong with the project, at a place of its own source when known (1-based line and column). */
export type PreviewProblem = {
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** A few source lines around the place, the line marked, a caret under the column. */
  frame?: string;
  /** A warning does not stop the preview (an unusable dependency nobody imports yet). */
  severity: 'error' | 'warning';
};

/** The source map of a project module, and how many lines were put before the compiled code. */
export type ModuleMap = { map: SourceMap; lineOffset: number };

/** The document for the preview iframe, what went wrong while building it, and the modules' source maps. */
export type PreviewResult = {
  html: string;
  problems: PreviewProblem[];
  /** Module name (`@tandem-project/src/App.tsx`) → its source map, to place run-time errors. */
  maps: Record<string, ModuleMap>;
};

const CODE_EXTENSIONS = new Set([
  'js',
  'mjs',
  'cjs',
  'ts',
  'mts',
  'cts',
  'jsx',
  'tsx',
  'vue',
  'svelte',
  'css',
  'html',
  'htm',
  'json',
  'md',
]);

/**
 * Builds a self-contained HTML document that runs the project in the preview iframe, like Vite's
 * dev server would serve it: the entry HTML with its module scripts, compiled TS/JSX/TSX
 * (Sucrase), Vue SFCs, Svelte and Solid components, Angular components (decorators kept for the
 * JIT compiler, templateUrl/styleUrl inlined) and Next.js pages (routes of `pages/`, our
 * `next/*` shims); CSS imports and stylesheet links become `<style>`; `public/` files answer at
 * `/`; bare imports resolve through the import map of the dependencies. A file that fails to
 * compile, or an import of a missing file or an undeclared package, becomes a module that throws
 * a readable error when the page runs, and is listed in `problems` with its place.
 */
export async function buildPreview(input: PreviewInput): Promise<PreviewResult> {
  await initLexer;
  return new PreviewBuilder(input).build();
}

type LoadedModule = { code: string; map?: SourceMap; lineOffset: number };

class PreviewBuilder {
  private readonly files: Map<string, string>;
  /** Binary files, path → data: URL (also present in `files`, with no text, so paths resolve). */
  private readonly binary: Map<string, string>;
  private readonly modules = new Map<string, string>();
  private readonly maps = new Map<string, ModuleMap>();
  private readonly queue: Array<{ key: string; path: string; query: string }> = [];
  private readonly problems = new Map<string, PreviewProblem>();
  private readonly jsx: JsxMode;
  private readonly unusable: Map<string, string>;
  private readonly undeclared = new Map<string, PreviewProblem>();
  private errorCount = 0;

  constructor(private readonly input: PreviewInput) {
    this.binary = new Map(Object.entries(input.binaryFiles ?? {}));
    this.files = new Map(Object.entries(input.files));
    for (const path of this.binary.keys()) if (!this.files.has(path)) this.files.set(path, '');
    this.jsx = jsxModeOf(input);
    this.unusable = new Map(Object.entries(input.unusable ?? {}));
    for (const reason of this.unusable.values())
      this.problem({ message: reason, file: 'package.json', severity: 'warning' });
  }

  async build(): Promise<PreviewResult> {
    const { path: htmlPath, html } = this.entryDocument();
    const body = await this.processHtml(htmlPath, html);
    while (this.queue.length > 0) {
      const job = this.queue.shift();
      if (job === undefined) break;
      let loaded: LoadedModule;
      try {
        loaded = await this.loadModule(job.path, job.query);
      } catch (error) {
        const problem = this.compileProblem(job.path, error);
        this.problem(problem);
        loaded = { code: `throw new Error(${JSON.stringify(formatProblem(problem))});\n`, lineOffset: 0 };
      }
      this.modules.set(job.key, dataUrl(loaded.code, 'text/javascript'));
      if (loaded.map !== undefined) this.maps.set(job.key, { map: loaded.map, lineOffset: loaded.lineOffset });
    }
    const importMap: ImportMap = {
      imports: { ...this.input.importMap.imports, ...this.shims(), ...Object.fromEntries(this.modules) },
    };
    const head =
      `<script type="importmap">${escapeJsonForHtml(importMap)}</script>\n` +
      `<script>${runtimeScript(this.fileUrls(), importMap)}</script>\n`;
    return {
      html: injectIntoHead(body, head),
      problems: [...this.problems.values()],
      maps: Object.fromEntries(this.maps),
    };
  }

  /** One problem per message: the same missing package imported by five files is one line. */
  private problem(problem: PreviewProblem): void {
    const known = this.problems.get(problem.message);
    // A warning (an unusable dependency) becomes an error once a file imports it.
    if (known === undefined || (known.severity === 'warning' && problem.severity === 'error'))
      this.problems.set(problem.message, problem);
  }

  /**
   * The HTML the preview starts from: the template's HTML entry; for Angular the `index` of
   * angular.json with its `styles` and `browser` entry added (the CLI injects them); for Next.js
   * a document that mounts the pages router.
   */
  private entryDocument(): { path: string; html: string } {
    if (this.input.framework === 'next') {
      const routes = nextRoutes(this.files.keys());
      const app = ['js', 'jsx', 'ts', 'tsx'].map((e) => `pages/_app.${e}`).find((p) => this.files.has(p)) ?? null;
      const entry = nextEntry(routes, app);
      const bootstrap = `try { await import(${JSON.stringify(`${MODULE_PREFIX}__next__/entry.js`)}); } catch (error) { __tandemError(error); }`;
      this.modules.set(`${MODULE_PREFIX}__next__/entry.js`, '');
      this.queue.push({ key: `${MODULE_PREFIX}__next__/entry.js`, path: '\0next-entry', query: '' });
      this.files.set('\0next-entry', entry);
      return {
        path: 'index.html',
        html: `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><div id="__next"></div><script type="module">${bootstrap}</script></body></html>`,
      };
    }
    if (this.input.framework === 'angular') {
      const project = angularProject(this.files.get('angular.json'));
      const index = project.index ?? (this.files.has('src/index.html') ? 'src/index.html' : 'index.html');
      const main = project.browser ?? this.input.entry;
      let html = this.files.get(index) ?? '<!doctype html><html><head></head><body><app-root></app-root></body></html>';
      const links = project.styles.map((style) => `<link rel="stylesheet" href="/${style}">`).join('');
      html = html.includes('</head>') ? html.replace('</head>', `${links}</head>`) : links + html;
      // @angular/compiler first: the JIT compiler must be loaded before anything is bootstrapped.
      const script = `<script type="module">try { await import('@angular/compiler'); await import('/${main}'); } catch (error) { __tandemError(error); }</script>`;
      html = html.includes('</body>') ? html.replace('</body>', `${script}</body>`) : html + script;
      return { path: index, html };
    }
    const htmlPath = this.findHtml();
    if (htmlPath !== null) return { path: htmlPath, html: this.files.get(htmlPath) ?? '' };
    return {
      path: 'index.html',
      html: `<!doctype html><html><head></head><body><div id="app"></div><div id="root"></div><script type="module" src="/${this.input.entry}"></script></body></html>`,
    };
  }

  private findHtml(): string | null {
    if (this.input.entry.endsWith('.html') && this.files.has(this.input.entry)) return this.input.entry;
    if (this.files.has('index.html')) return 'index.html';
    return null;
  }

  /** Our `next/*` modules, in place of the `next` package the import map would load from the CDN. */
  private shims(): Record<string, string> {
    if (this.input.framework !== 'next') return {};
    return Object.fromEntries(
      Object.entries(NEXT_SHIMS).map(([name, code]) => [name, dataUrl(code, 'text/javascript')]),
    );
  }

  // ---- HTML ---------------------------------------------------------------------------------

  private async processHtml(htmlPath: string, html: string): Promise<string> {
    const scripts: string[] = [];
    let out = html.replace(
      /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi,
      (_match, rawAttrs: string, content: string) => {
        scripts.push(rawAttrs, content);
        return `\uE000script${scripts.length / 2 - 1}\uE000`;
      },
    );
    out = out.replace(/<link\b([^>]*?)\/?>/gi, (match, rawAttrs: string) =>
      this.processLink(htmlPath, match, rawAttrs),
    );
    out = out.replace(/<(img|source|video|audio|image|use|embed|track|input)\b([^>]*)>/gi, (match: string) =>
      this.rewriteAssetAttributes(htmlPath, match),
    );
    // Scripts last: their inline content is JavaScript, not markup to rewrite.
    const replacements: string[] = [];
    for (let i = 0; i < scripts.length; i += 2) {
      replacements.push(await this.processScript(htmlPath, scripts[i] ?? '', scripts[i + 1] ?? ''));
    }
    return out.replace(/\uE000script(\d+)\uE000/g, (_m, index: string) => replacements[Number(index)] ?? '');
  }

  private async processScript(htmlPath: string, rawAttrs: string, content: string): Promise<string> {
    const attrs = parseAttributes(rawAttrs);
    const src = attrs.get('src');
    const isModule = attrs.get('type') === 'module';
    if (src !== undefined && !isExternalUrl(src)) {
      const [reference = '', query = ''] = src.split('?');
      const path = resolveProjectPath(reference, htmlPath, (p) => this.files.has(p));
      if (path === null) {
        const message = `${htmlPath}: <script src="${src}"> names no file of the project`;
        this.problem({ message, file: htmlPath, ...this.placeOfText(htmlPath, src), severity: 'error' });
        return `<script>throw new Error(${escapeScript(JSON.stringify(message))})</script>`;
      }
      // A dynamic import reports every failure (a package the CDN cannot serve, a link error, a
      // throw at the top level) as a rejection the page can show; a static one fails silently.
      if (isModule)
        return `<script type="module">import(${JSON.stringify(this.moduleKey(path, query))}).catch(__tandemError);</script>`;
      return `<script>${escapeScript(this.files.get(path) ?? '')}</script>`;
    }
    if (isModule && src === undefined) {
      const code = await this.rewriteImports(replaceImportMeta(content), htmlPath);
      return `<script type="module">${escapeScript(code)}</script>`;
    }
    return `<script${rawAttrs}>${content}</script>`;
  }

  private processLink(htmlPath: string, tag: string, rawAttrs: string): string {
    const attrs = parseAttributes(rawAttrs);
    const href = attrs.get('href');
    if (href === undefined || isExternalUrl(href)) return tag;
    const path = resolveProjectPath(href.split('?')[0] ?? '', htmlPath, (p) => this.files.has(p));
    if (path === null) return tag;
    const rel = (attrs.get('rel') ?? '').toLowerCase().split(/\s+/);
    if (rel.includes('stylesheet')) {
      return `<style data-tandem-file="${escapeAttribute(path)}">${escapeStyle(this.processCss(path, this.files.get(path) ?? ''))}</style>`;
    }
    return this.rewriteAssetAttributes(htmlPath, tag);
  }

  /** Points `src`/`href` of a tag at data: URLs of the project files they name. */
  private rewriteAssetAttributes(htmlPath: string, tag: string): string {
    return tag.replace(
      /\s(src|href)\s*=\s*("([^"]*)"|'([^']*)')/gi,
      (match, name: string, _q, dq?: string, sq?: string) => {
        const value = dq ?? sq ?? '';
        if (value === '' || isExternalUrl(value)) return match;
        const path = resolveProjectPath(value.split(/[?#]/)[0] ?? '', htmlPath, (p) => this.files.has(p));
        if (path === null) return match;
        return ` ${name}="${escapeAttribute(this.assetUrl(path))}"`;
      },
    );
  }

  // ---- modules ------------------------------------------------------------------------------

  private moduleKey(path: string, query: string): string {
    const key = `${MODULE_PREFIX}${path}${query === '' ? '' : `?${query}`}`;
    if (!this.modules.has(key)) {
      // A placeholder until the queue compiles it, so each module is compiled once.
      this.modules.set(key, '');
      this.queue.push({ key, path, query });
    }
    return key;
  }

  /** A module that throws `problem` when imported; the problem is listed once. */
  private errorModule(problem: PreviewProblem): string {
    this.problem(problem);
    const key = `${MODULE_PREFIX}__error__/${this.errorCount++}`;
    this.modules.set(key, dataUrl(`throw new Error(${JSON.stringify(formatProblem(problem))});\n`, 'text/javascript'));
    return key;
  }

  private async loadModule(path: string, query: string): Promise<LoadedModule> {
    const source = this.files.get(path) ?? '';
    if (query === 'url' || this.binary.has(path))
      return { code: `export default ${JSON.stringify(this.assetUrl(path))};\n`, lineOffset: 0 };
    if (query === 'raw') return { code: `export default ${JSON.stringify(source)};\n`, lineOffset: 0 };
    if (path === '\0next-entry') return { code: await this.rewriteImports(source, 'pages/_entry.js'), lineOffset: 0 };
    const ext = extension(path);
    if (ext === 'css') {
      const css = this.processCss(path, source);
      if (query === 'inline') return { code: `export default ${JSON.stringify(css)};\n`, lineOffset: 0 };
      return { code: styleModule(path, css, path.endsWith('.module.css')), lineOffset: 0 };
    }
    if (ext === 'json') {
      JSON.parse(source);
      return { code: `export default ${source.trim()};\n`, lineOffset: 0 };
    }
    let compiled: CompiledModule;
    const framework = this.input.framework;
    if (/\.svelte(\.[jt]s)?$/.test(path)) {
      compiled = await compileSvelte(path, source);
    } else if (ext === 'vue') {
      compiled = await compileVue(path, source);
    } else if (framework === 'angular' && (ext === 'ts' || ext === 'mts')) {
      compiled = await compileAngular(path, source, (reference) => {
        const target = joinPath(dirname(path), reference);
        return target === null ? null : (this.files.get(target) ?? null);
      });
    } else if (framework === 'next' && (ext === 'js' || ext === 'mjs')) {
      // Next.js pages are .js files with JSX.
      compiled = await compileScript(path, source, false, this.jsx);
    } else if (ext === 'js' || ext === 'mjs') {
      compiled = { code: source };
    } else if (ext === 'ts' || ext === 'mts') {
      compiled = await compileScript(path, source, true, null);
    } else if (ext === 'jsx' || ext === 'tsx') {
      compiled = await compileScript(path, source, ext === 'tsx', this.jsx);
    } else {
      return { code: `export default ${JSON.stringify(this.assetUrl(path))};\n`, lineOffset: 0 };
    }
    const code = await this.rewriteImports(replaceImportMeta(compiled.code), path);
    // Code passed through unchanged needs no map: its positions are the file's.
    const map = compiled.map;
    // The CSS injection is one line before the code.
    const withCss = compiled.css === undefined ? code : `${styleInjection(path, compiled.css)}\n${code}`;
    const lineOffset = compiled.css === undefined ? 0 : 1;
    return map === undefined ? { code: withCss, lineOffset } : { code: withCss, map, lineOffset };
  }

  /** Where a compiler's error points, with a code frame from the project file. */
  private compileProblem(path: string, error: unknown): PreviewProblem {
    const raw = error instanceof Error ? error.message : String(error);
    const place = placeOf(error, this.files.get(path) ?? '');
    const file = path;
    // Babel and Svelte append their own frame and place to the message: keep the first line.
    const message = `${file}: ${firstLine(raw.replace(`${path}: `, '')).replace(/\s*\(\d+:\d+\)$/, '')}`;
    if (place === null) return { message, file, severity: 'error' };
    const frame = codeFrame(this.files.get(file) ?? '', place.line, place.column);
    return { message: `${message} (${file}:${place.line}:${place.column})`, file, ...place, frame, severity: 'error' };
  }

  /** The first place `text` appears in a file (1-based), for problems found in HTML. */
  private placeOfText(path: string, text: string): { line: number; column: number } | Record<string, never> {
    const source = this.files.get(path) ?? '';
    const index = source.indexOf(text);
    return index < 0 ? {} : positionAt(source, index);
  }

  /** Rewrites every import of a project file to its module name; checks bare imports against the map. */
  private async rewriteImports(code: string, fromPath: string): Promise<string> {
    const [imports] = parseModule(code, fromPath);
    let out = '';
    let last = 0;
    for (const entry of imports) {
      if (entry.type === 'import-meta' || entry.specifier === undefined || entry.specifier === null) continue;
      const replacement = this.specifierFor(entry.specifier, fromPath);
      if (replacement === null) continue;
      let start = entry.start;
      let end = entry.end;
      if (entry.type === 'dynamic') {
        if (!/^['"`]/.test(code.slice(start, end))) continue;
      } else {
        start -= 1;
        end += 1;
      }
      out += code.slice(last, start) + JSON.stringify(replacement);
      last = end;
    }
    return out + code.slice(last);
  }

  private specifierFor(specifier: string, fromPath: string): string | null {
    if (isExternalUrl(specifier) || specifier.startsWith(MODULE_PREFIX)) return null;
    const [reference = '', query = ''] = specifier.split('?');
    const place = () => this.placeOfText(fromPath, specifier);
    if (isRelativeSpecifier(reference)) {
      const path = resolveProjectPath(reference, fromPath, (p) => this.files.has(p));
      if (path === null)
        return this.errorModule({
          message: `Cannot find "${specifier}" (imported by ${fromPath})`,
          file: fromPath,
          ...place(),
          severity: 'error',
        });
      return this.moduleKey(path, query);
    }
    const name = packageName(specifier);
    if (this.input.framework === 'next' && name === 'next') {
      if (specifier in NEXT_SHIMS) return null;
      return this.errorModule({
        message: `"${specifier}" is not covered by the browser preview of Next.js (imported by ${fromPath}); it covers ${NEXT_COVERED.join(', ')}. Download the project and run it with Next.js for the rest.`,
        file: fromPath,
        ...place(),
        severity: 'error',
      });
    }
    const unusable = this.unusable.get(name);
    if (unusable !== undefined) return this.errorModule({ message: unusable, file: 'package.json', severity: 'error' });
    if (!this.isMapped(specifier)) {
      // One line per package, however many files import it: the first importer is its place.
      const known = this.undeclared.get(name);
      if (known !== undefined) return this.errorModule(known);
      const problem: PreviewProblem = {
        message: `"${name}" is not a dependency in package.json (imported by ${fromPath}); add it to "dependencies"`,
        file: fromPath,
        ...place(),
        severity: 'error',
      };
      this.undeclared.set(name, problem);
      return this.errorModule(problem);
    }
    return null;
  }

  private isMapped(specifier: string): boolean {
    const imports = this.input.importMap.imports;
    if (specifier in imports) return true;
    return Object.keys(imports).some((key) => key.endsWith('/') && specifier.startsWith(key));
  }

  // ---- CSS and assets -----------------------------------------------------------------------

  private processCss(path: string, css: string, depth = 0): string {
    const withImports = css.replace(
      /@import\s+(?:url\(\s*)?(['"])([^'"]+)\1\s*\)?\s*;/g,
      (match, _q: string, reference: string) => {
        if (depth > 8 || isExternalUrl(reference)) return match;
        const target = resolveProjectPath(reference, path, (p) => this.files.has(p));
        return target === null ? match : this.processCss(target, this.files.get(target) ?? '', depth + 1);
      },
    );
    return withImports.replace(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g, (match, _q: string, reference: string) => {
      if (isExternalUrl(reference)) return match;
      const target = resolveProjectPath(reference.split(/[?#]/)[0] ?? '', path, (p) => this.files.has(p));
      return target === null ? match : `url(${JSON.stringify(this.assetUrl(target))})`;
    });
  }

  private assetUrl(path: string): string {
    return this.binary.get(path) ?? dataUrl(this.files.get(path) ?? '', mimeType(path));
  }

  /**
   * URL → data: URL for files a running page may name at run time (`<img src="/logo.svg">` made
   * by a framework, `fetch('/data.json')`): every file but source code.
   */
  private fileUrls(): Map<string, string> {
    const urls = new Map<string, string>();
    for (const path of this.files.keys()) {
      if (path.startsWith('\0')) continue;
      const ext = extension(path);
      if (CODE_EXTENSIONS.has(ext) && !RUNTIME_READABLE.has(ext)) continue;
      const served = path.startsWith('public/') ? path.slice('public/'.length) : path;
      const url = this.assetUrl(path);
      urls.set(`/${served}`, url);
      if (!path.startsWith('public/')) urls.set(served, url);
    }
    return urls;
  }
}

function jsxModeOf(input: PreviewInput): JsxMode {
  if (input.framework === 'solid' || 'solid-js' in input.importMap.imports) return { kind: 'solid' };
  const preact =
    input.framework === 'preact' || ('preact' in input.importMap.imports && !('react' in input.importMap.imports));
  return { kind: 'automatic', importSource: preact ? 'preact' : 'react' };
}

/** Vite's `import.meta.env` (a development server's values) and `import.meta.hot` (no HMR here). */
function replaceImportMeta(code: string): string {
  return code
    .replace(/\bimport\.meta\.env\b/g, '({"MODE":"development","DEV":true,"PROD":false,"SSR":false,"BASE_URL":"/"})')
    .replace(/\bimport\.meta\.hot\b/g, 'undefined');
}

function styleInjection(path: string, css: string): string {
  return (
    `{const id=${JSON.stringify(path)};let el=[...document.querySelectorAll('style[data-tandem-file]')].find((s)=>s.dataset.tandemFile===id);` +
    `if(!el){el=document.createElement('style');el.dataset.tandemFile=id;document.head.appendChild(el);}el.textContent=${JSON.stringify(css)};}`
  );
}

function styleModule(path: string, css: string, cssModule: boolean): string {
  // CSS modules keep their class names as written (no hashing): `styles.card` is "card".
  const exported = cssModule
    ? `new Proxy({}, { get: (_t, key) => (typeof key === 'string' ? key : undefined) })`
    : JSON.stringify(css);
  return `${styleInjection(path, css)}\nexport default ${exported};\n`;
}

/** `react-dom/client` → `react-dom`; `@vue/shared/x` → `@vue/shared`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

function parseAttributes(raw: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const match of raw.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = match[1];
    if (name !== undefined) attrs.set(name.toLowerCase(), match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attrs;
}

function injectIntoHead(html: string, content: string): string {
  const head = /<head\b[^>]*>/i.exec(html);
  if (head !== null)
    return html.slice(0, head.index + head[0].length) + content + html.slice(head.index + head[0].length);
  const root = /<html\b[^>]*>/i.exec(html);
  if (root !== null)
    return `${html.slice(0, root.index + root[0].length)}<head>${content}</head>${html.slice(root.index + root[0].length)}`;
  return `<head>${content}</head>${html}`;
}

function escapeJsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeScript(code: string): string {
  return code.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

function escapeStyle(css: string): string {
  return css.replace(/<\/style/gi, '<\\/style');
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

/** The problem as one text: its message and, when known, the code frame. */
export function formatProblem(problem: PreviewProblem): string {
  return problem.frame === undefined ? problem.message : `${problem.message}\n\n${problem.frame}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** 1-based line and column of an offset. */
function positionAt(source: string, index: number): { line: number; column: number } {
  const before = source.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

/**
 * The place a compiler's error points at, 1-based: Babel and Sucrase (`loc` with a 0-based
 * column), Svelte (`start`), Vue (`loc.start`, 1-based column), JSON (`position N`).
 */
function placeOf(error: unknown, source: string): { line: number; column: number } | null {
  if (typeof error !== 'object' || error === null) return null;
  const e = error as {
    pos?: unknown;
    loc?: { line?: number; column?: number; start?: { line?: number; column?: number } };
    start?: { line?: number; column?: number };
    message?: string;
  };
  // Sucrase and Babel's parser: the offset in the source (their `loc` columns differ in base).
  if (typeof e.pos === 'number' && e.pos >= 0 && e.pos <= source.length) return positionAt(source, e.pos);
  if (typeof e.loc?.line === 'number') return { line: e.loc.line, column: (e.loc.column ?? 0) + 1 };
  if (typeof e.loc?.start?.line === 'number') return { line: e.loc.start.line, column: e.loc.start.column ?? 1 };
  if (typeof e.start?.line === 'number') return { line: e.start.line, column: (e.start.column ?? 0) + 1 };
  const position = /position (\d+)/.exec(e.message ?? '');
  if (position !== null) return positionAt(source, Number(position[1]));
  // Babel's buildCodeFrameError: a frame in the message, `> 2 | …` and a caret line under it.
  const framed = /^>\s*(\d+) \|.*\n\s*\|( *)\^/m.exec(e.message ?? '');
  if (framed !== null) return { line: Number(framed[1]), column: (framed[2] ?? '').length };
  const lineColumn = /\((\d+):(\d+)\)\s*$/m.exec(e.message ?? '');
  if (lineColumn !== null) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) + 1 };
  return null;
}

/** Files a running page may read besides assets (`fetch('/data.json')`). */
const RUNTIME_READABLE = new Set(['json', 'md', 'txt', 'csv', 'xml']);

/** The `projects.<first>.architect.build.options` of angular.json that the preview needs. */
function angularProject(text: string | undefined): { index?: string; browser?: string; styles: string[] } {
  try {
    const config = JSON.parse(text ?? '') as {
      projects?: Record<string, { architect?: { build?: { options?: Record<string, unknown> } } }>;
    };
    const project = Object.values(config.projects ?? {})[0];
    const options = project?.architect?.build?.options ?? {};
    const index = typeof options['index'] === 'string' ? options['index'] : undefined;
    const browser =
      typeof options['browser'] === 'string'
        ? options['browser']
        : typeof options['main'] === 'string'
          ? options['main']
          : undefined;
    const styles = (Array.isArray(options['styles']) ? options['styles'] : [])
      .map((style: unknown) => (typeof style === 'string' ? style : (style as { input?: unknown } | null)?.input))
      .filter((style): style is string => typeof style === 'string' && style.endsWith('.css'));
    return { ...(index === undefined ? {} : { index }), ...(browser === undefined ? {} : { browser }), styles };
  } catch {
    // No angular.json (or not JSON): the defaults of a CLI project.
    return { styles: ['src/styles.css'] };
  }
}
