import { init as initLexer, parse as parseModule } from 'es-module-lexer';
import type { ImportMap } from '@tandem/client-sdk';
import { compileScript, compileSvelte, compileVue, type JsxMode } from './compilers.js';
import {
  dataUrl,
  extension,
  isExternalUrl,
  isRelativeSpecifier,
  mimeType,
  resolveProjectPath,
} from './project-paths.js';

/** What the preview is built from: a snapshot of the project. */
export type PreviewInput = {
  /** Every text file of the shard, path → content. */
  files: Record<string, string>;
  /** The template's entry (`index.html` for Vite-shaped templates). */
  entry: string;
  /** Template framework (`react`, `preact`, `vue`, `svelte`, `solid`, `none`…): picks the JSX flavour. */
  framework: string;
  /** Import map of the project's runtime dependencies (buildImportMap); project modules are added. */
  importMap: ImportMap;
};

/** The document for the preview iframe, and what went wrong while building it. */
export type PreviewResult = { html: string; problems: string[] };

/**
 * Project modules are named `@tandem-project/<path>` in the import map and mapped to data: URLs.
 * Modules loaded from data: URLs cannot resolve relative imports, so every project import is
 * rewritten to this bare name; the page's one import map then resolves it, cycles included.
 */
const MODULE_PREFIX = '@tandem-project/';

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
 * Builds a self-contained HTML document that runs the project in a sandboxed iframe, like Vite's
 * dev server would serve it: the entry HTML with its module scripts, compiled TS/JSX/TSX
 * (Sucrase), Vue SFCs, Svelte and Solid components; CSS imports and stylesheet links become
 * `<style>`; `public/` files answer at `/`; bare imports resolve through the import map of the
 * dependencies. A file that fails to compile, or an import of a missing file or an undeclared
 * package, becomes a module that throws a readable error when the page runs, and is listed in
 * `problems`.
 */
export async function buildPreview(input: PreviewInput): Promise<PreviewResult> {
  await initLexer;
  return new PreviewBuilder(input).build();
}

class PreviewBuilder {
  private readonly files: Map<string, string>;
  private readonly modules = new Map<string, string>();
  private readonly queue: Array<{ key: string; path: string; query: string }> = [];
  private readonly problems: string[] = [];
  private readonly jsx: JsxMode;
  private errorCount = 0;

  constructor(private readonly input: PreviewInput) {
    this.files = new Map(Object.entries(input.files));
    this.jsx = jsxModeOf(input);
  }

  async build(): Promise<PreviewResult> {
    const htmlPath = this.findHtml();
    const html =
      htmlPath === null
        ? `<!doctype html><html><head></head><body><div id="app"></div><div id="root"></div><script type="module" src="/${this.input.entry}"></script></body></html>`
        : (this.files.get(htmlPath) ?? '');
    const body = await this.processHtml(htmlPath ?? 'index.html', html);
    while (this.queue.length > 0) {
      const job = this.queue.shift();
      if (job === undefined) break;
      let code: string;
      try {
        code = await this.loadModule(job.path, job.query);
      } catch (error) {
        const message = `${job.path}: ${error instanceof Error ? error.message : String(error)}`;
        this.problems.push(message);
        code = `throw new Error(${JSON.stringify(message)});\n`;
      }
      this.modules.set(job.key, dataUrl(code, 'text/javascript'));
    }
    const importMap: ImportMap = { imports: { ...this.input.importMap.imports, ...Object.fromEntries(this.modules) } };
    const head =
      `<script type="importmap">${escapeJsonForHtml(importMap)}</script>\n` +
      `<script>${bootstrapScript(this.assetUrls(), this.problems, this.input.importMap)}</script>\n`;
    return { html: injectIntoHead(body, head), problems: this.problems };
  }

  private findHtml(): string | null {
    if (this.input.entry.endsWith('.html') && this.files.has(this.input.entry)) return this.input.entry;
    if (this.files.has('index.html')) return 'index.html';
    return null;
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
        this.problems.push(message);
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

  private errorModule(message: string): string {
    this.problems.push(message);
    const key = `${MODULE_PREFIX}__error__/${this.errorCount++}`;
    this.modules.set(key, dataUrl(`throw new Error(${JSON.stringify(message)});\n`, 'text/javascript'));
    return key;
  }

  private async loadModule(path: string, query: string): Promise<string> {
    const source = this.files.get(path) ?? '';
    if (query === 'raw') return `export default ${JSON.stringify(source)};\n`;
    if (query === 'url') return `export default ${JSON.stringify(this.assetUrl(path))};\n`;
    const ext = extension(path);
    if (ext === 'css') {
      const css = this.processCss(path, source);
      if (query === 'inline') return `export default ${JSON.stringify(css)};\n`;
      return styleModule(path, css, path.endsWith('.module.css'));
    }
    if (ext === 'json') {
      JSON.parse(source);
      return `export default ${source.trim()};\n`;
    }
    let code: string;
    let css: string | undefined;
    if (/\.svelte(\.[jt]s)?$/.test(path)) {
      code = await compileSvelte(path, source);
    } else if (ext === 'vue') {
      const compiled = await compileVue(path, source);
      code = compiled.code;
      css = compiled.css;
    } else if (ext === 'js' || ext === 'mjs') {
      code = source;
    } else if (ext === 'ts' || ext === 'mts') {
      code = await compileScript(path, source, true, null);
    } else if (ext === 'jsx' || ext === 'tsx') {
      code = await compileScript(path, source, ext === 'tsx', this.jsx);
    } else {
      return `export default ${JSON.stringify(this.assetUrl(path))};\n`;
    }
    code = await this.rewriteImports(replaceImportMeta(code), path);
    return css === undefined ? code : `${styleInjection(path, css)}\n${code}`;
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
    if (isExternalUrl(specifier)) return null;
    const [reference = '', query = ''] = specifier.split('?');
    if (isRelativeSpecifier(reference)) {
      const path = resolveProjectPath(reference, fromPath, (p) => this.files.has(p));
      if (path === null) return this.errorModule(`Cannot find "${specifier}" (imported by ${fromPath})`);
      return this.moduleKey(path, query);
    }
    if (!this.isMapped(specifier)) {
      return this.errorModule(
        `"${packageName(specifier)}" is not a dependency in package.json (imported by ${fromPath}); add it with an exact version`,
      );
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
    return dataUrl(this.files.get(path) ?? '', mimeType(path));
  }

  /** URL → data: URL for files a running page may name at run time (`<img src="/logo.svg">`). */
  private assetUrls(): Map<string, string> {
    const urls = new Map<string, string>();
    for (const path of this.files.keys()) {
      if (CODE_EXTENSIONS.has(extension(path))) continue;
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

/**
 * Runs first in the preview: shows the build's problems and uncaught errors over the page (the
 * preview has no console of its own; an import of a missing module fails at link time with a
 * message that does not say why) and points run-time references to project files
 * (`<img src="/logo.svg">` made by a framework) at their data: URLs.
 */
function bootstrapScript(assets: ReadonlyMap<string, string>, problems: string[], importMap: ImportMap): string {
  const cdnOrigins = [
    ...new Set(
      Object.values(importMap.imports)
        .filter((u) => /^https?:/.test(u))
        .map((u) => new URL(u).origin),
    ),
  ];
  return `(() => {
  const assets = new Map(${escapeJsonForHtml([...assets])});
  const problems = ${escapeJsonForHtml(problems)};
  const show = (text) => {
    let box = document.getElementById('__tandem_error');
    if (!box) {
      box = document.createElement('pre');
      box.id = '__tandem_error';
      box.style.cssText = 'position:fixed;left:0;right:0;bottom:0;max-height:50%;overflow:auto;margin:0;padding:10px 12px;background:#fff1f2;color:#9f1239;border-top:2px solid #e11d48;font:12px/1.45 ui-monospace,monospace;white-space:pre-wrap;z-index:2147483647';
      (document.body || document.documentElement).appendChild(box);
    }
    box.textContent += text + '\\n';
  };
  // Errors name modules by their data: URLs; show the project path instead.
  const names = [];
  try {
    const map = JSON.parse(document.querySelector('script[type="importmap"]').textContent).imports;
    for (const key of Object.keys(map)) if (map[key].startsWith('data:')) names.push([map[key], key.replace(${JSON.stringify(MODULE_PREFIX)}, '')]);
  } catch {}
  const describe = (value) => {
    let text = value && value.stack ? String(value.stack) : String(value && value.message ? value.message : value);
    for (const [url, name] of names) text = text.split(url).join(name);
    return text;
  };
  if (problems.length > 0) {
    const showProblems = () => problems.forEach(show);
    if (document.body) showProblems();
    else addEventListener('DOMContentLoaded', showProblems);
  }
  const cdn = ${escapeJsonForHtml(cdnOrigins)};
  window.__tandemError = (error) => {
    const text = describe(error);
    const hint = /Failed to fetch|error loading dynamically imported module|Importing a module script failed/i.test(text) && cdn.length > 0
      ? '\\n(the preview loads packages from ' + cdn.join(', ') + '; check that it is reachable)'
      : '';
    show(text + hint);
  };
  addEventListener('error', (event) => show(event.error ? describe(event.error) : event.message || 'an error occurred'));
  addEventListener('unhandledrejection', (event) => show('Unhandled rejection: ' + describe(event.reason)));
  const fix = (el) => {
    if (!el.getAttribute) return;
    for (const name of ['src', 'href']) {
      const value = el.getAttribute(name);
      if (value && assets.has(value)) el.setAttribute(name, assets.get(value));
    }
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'attributes') fix(record.target);
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        fix(node);
        node.querySelectorAll('[src],[href]').forEach(fix);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'href'] });
})();`.replace(/<\/script/gi, '<\\/script');
}
