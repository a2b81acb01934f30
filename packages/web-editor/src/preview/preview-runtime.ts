import type { ImportMap } from '@tandem/client-sdk';

/**
 * What the preview document tells the editor, through `parent.postMessage` (every message has
 * `tandem: 'preview'` and the `tandem-build` number of the URL it was loaded with; `ready` comes
 * from the preview origin's host page). Values logged to the console travel as {@link LoggedValue} trees.
 */
export type PreviewMessage = { tandem: 'preview'; build: string | null } & (
  | { type: 'ready' }
  | { type: 'console'; level: ConsoleLevel; args: LoggedValue[] }
  | { type: 'error'; kind: 'error' | 'rejection'; message: string; stack: string }
  | { type: 'dependency'; name: string; url: string; status: number; message: string }
  | { type: 'offline'; origins: string[]; message: string }
);

export type ConsoleLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

/** A logged value, serialised in the preview (objects to a depth of 4, 100 entries each). */
export type LoggedValue =
  | { t: 'string' | 'number' | 'boolean' | 'bigint' | 'symbol' | 'function' | 'error' | 'node'; v: string }
  | { t: 'null' | 'undefined' | 'circular' }
  | { t: 'object' | 'array'; name: string; entries: Array<[string, LoggedValue]> | null; more: number };

/** Project modules are named `@tandem-project/<path>` in the import map. */
export const MODULE_PREFIX = '@tandem-project/';

/**
 * The script that runs first in the preview document. It:
 * - forwards `console.log/info/warn/error/debug` (serialised), uncaught errors and unhandled
 *   rejections to the editor, with module data: URLs in stacks replaced by project paths;
 * - when a module fails to load, asks the CDN for each dependency of the import map to name the
 *   one that failed and its URL, or to say once that the CDN is unreachable;
 * - answers `fetch()` and `src`/`href` references to project files (`/logo.svg`, `/data.json`)
 *   with their contents, since the preview's origin serves none of them.
 */
export function runtimeScript(files: ReadonlyMap<string, string>, importMap: ImportMap): string {
  const dependencies = Object.entries(importMap.imports).filter(
    ([name, url]) => !name.endsWith('/') && !name.startsWith(MODULE_PREFIX) && /^https?:/.test(url),
  );
  // Each package's URLs (`name` and `name/` entries), longest first, to tell whose a URL is.
  const prefixes = Object.entries(importMap.imports)
    .filter(([name, url]) => !name.startsWith(MODULE_PREFIX) && /^https?:/.test(url))
    .map(([name, url]): [string, string] => [name.replace(/\/$/, ''), url.replace(/\?.*$/, '')])
    .sort((a, b) => b[1].length - a[1].length);
  return `(() => {
  const files = new Map(${json([...files])});
  const dependencies = ${json(dependencies)};
  // Which build this document is (the panel ignores messages of an older one): read before any
  // project code can change the URL (history.pushState of a router).
  const build = new URLSearchParams(location.search).get('tandem-build');
  const post = (message) => { try { parent.postMessage({ tandem: 'preview', build, ...message }, '*'); } catch {} };
  const names = [];
  try {
    const map = JSON.parse(document.querySelector('script[type="importmap"]').textContent).imports;
    for (const key of Object.keys(map)) if (map[key].startsWith('data:')) names.push([map[key], key]);
  } catch {}
  names.sort((a, b) => b[0].length - a[0].length);
  const describe = (value) => {
    let text = value && value.stack ? String(value.stack) : String(value && value.message ? value.message : value);
    if (value && value.stack && value.message && !text.includes(value.message)) text = value.message + '\\n' + text;
    for (const [url, name] of names) text = text.split(url).join(name);
    return text;
  };
  const messageOf = (value) => {
    const text = value && typeof value === 'object' && 'message' in value ? String(value.message) : String(value);
    let out = text;
    for (const [url, name] of names) out = out.split(url).join(name);
    return (value && value.name && value.name !== 'Error' ? value.name + ': ' : '') + out;
  };
  const serialize = (value, depth, seen) => {
    if (value === null) return { t: 'null' };
    const type = typeof value;
    if (type === 'undefined') return { t: 'undefined' };
    if (type === 'string') return { t: 'string', v: value.length > 20000 ? value.slice(0, 20000) + '…' : value };
    if (type === 'number' || type === 'boolean' || type === 'bigint') return { t: type, v: String(value) };
    if (type === 'symbol') return { t: 'symbol', v: value.toString() };
    if (type === 'function') return { t: 'function', v: 'ƒ ' + (value.name || 'anonymous') + '()' };
    if (value instanceof Error) return { t: 'error', v: describe(value) };
    if (typeof Node !== 'undefined' && value instanceof Node)
      return { t: 'node', v: value.nodeType === 1 ? '<' + value.nodeName.toLowerCase() + (value.id ? '#' + value.id : '') + (typeof value.className === 'string' && value.className ? '.' + value.className.trim().split(/\\s+/).join('.') : '') + '>' : value.nodeName };
    if (seen.has(value)) return { t: 'circular' };
    const isArray = Array.isArray(value);
    let name = isArray ? 'Array' : 'Object';
    try { name = (value.constructor && value.constructor.name) || name; } catch {}
    if (depth >= 4) return { t: isArray ? 'array' : 'object', name, entries: null, more: 0 };
    seen.add(value);
    let pairs = [];
    try {
      if (value instanceof Map) pairs = [...value].map(([k, v], i) => [typeof k === 'string' ? k : String(i), v]);
      else if (value instanceof Set) pairs = [...value].map((v, i) => [String(i), v]);
      else if (isArray) pairs = value.map((v, i) => [String(i), v]);
      else pairs = Object.keys(value).map((k) => [k, value[k]]);
    } catch {}
    const entries = pairs.slice(0, 100).map(([k, v]) => { try { return [k, serialize(v, depth + 1, seen)]; } catch { return [k, { t: 'string', v: '(unreadable)' }]; } });
    seen.delete(value);
    return { t: isArray ? 'array' : 'object', name, entries, more: Math.max(0, pairs.length - 100) };
  };
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level];
    console[level] = (...args) => {
      post({ type: 'console', level, args: args.map((a) => serialize(a, 0, new Set())) });
      return original.apply(console, args);
    };
  }
  addEventListener('error', (event) => {
    const error = event.error;
    const message = error ? messageOf(error) : event.message || 'an error occurred';
    const stack = error ? describe(error) : (event.filename ? ' at ' + describe({ message: event.filename }) + ':' + event.lineno + ':' + event.colno : '');
    post({ type: 'error', kind: 'error', message, stack });
  });
  addEventListener('unhandledrejection', (event) => {
    post({ type: 'error', kind: 'rejection', message: 'Unhandled rejection: ' + messageOf(event.reason), stack: describe(event.reason) });
  });
  const realFetch = window.fetch.bind(window);
  let probed = false;
  /** A module failed to load: find which dependency (a network error or an HTTP error status). */
  const probe = async () => {
    if (probed) return true;
    probed = true;
    // A module the browser got an HTTP error for (a subpath the CDN does not have) is in the
    // resource timings with its status; name the dependency whose URL it starts with.
    const prefixes = ${json(prefixes)};
    const seen = new Set();
    for (const entry of performance.getEntriesByType('resource')) {
      if (!(entry.responseStatus >= 400) || seen.has(entry.name)) continue;
      const owner = prefixes.find(([, url]) => entry.name.startsWith(url));
      if (!owner) continue;
      seen.add(entry.name);
      post({ type: 'dependency', name: owner[0], url: entry.name, status: entry.responseStatus, message: 'Could not load the dependency "' + owner[0] + '" from ' + entry.name + ' (HTTP ' + entry.responseStatus + ')' });
    }
    if (seen.size > 0) return true;
    const results = await Promise.all(dependencies.map(async ([name, url]) => {
      try { const response = await realFetch(url, { cache: 'no-store' }); return { name, url, status: response.status, ok: response.ok }; }
      catch { return { name, url, status: 0, ok: false }; }
    }));
    const failed = results.filter((r) => !r.ok);
    if (failed.length === 0) return false;
    if (failed.every((r) => r.status === 0) && failed.length === results.length) {
      const origins = [...new Set(failed.map((r) => new URL(r.url).origin))];
      post({ type: 'offline', origins, message: 'The packages of this project cannot be loaded: ' + origins.join(', ') + ' does not answer. You may be offline. Editing still works; retry when the connection is back.' });
      return true;
    }
    for (const r of failed)
      post({ type: 'dependency', name: r.name, url: r.url, status: r.status, message: 'Could not load the dependency "' + r.name + '" from ' + r.url + (r.status === 0 ? ' (no answer)' : ' (HTTP ' + r.status + ')') });
    return true;
  };
  window.__tandemError = (error) => {
    const message = messageOf(error);
    if (/Failed to fetch dynamically imported module|error loading dynamically imported module|Importing a module script failed|Failed to resolve module specifier/i.test(message) && dependencies.length > 0) {
      probe().then((named) => { if (!named) post({ type: 'error', kind: 'error', message, stack: describe(error) }); });
      return;
    }
    post({ type: 'error', kind: 'error', message, stack: describe(error) });
  };
  const local = (raw) => {
    try {
      const url = new URL(raw, location.href);
      if (url.origin !== location.origin) return null;
      return files.get(decodeURIComponent(url.pathname)) ?? null;
    } catch { return null; }
  };
  window.fetch = (input, init) => {
    const raw = typeof input === 'string' || input instanceof URL ? String(input) : input && input.url;
    const data = raw ? local(raw) : null;
    return data === null ? realFetch(input, init) : realFetch(data, init);
  };
  const fix = (el) => {
    if (!el.getAttribute) return;
    for (const name of ['src', 'href']) {
      const value = el.getAttribute(name);
      if (!value || value.startsWith('data:')) continue;
      const data = files.has(value) ? files.get(value) : /^[a-z][a-z0-9+.-]*:|^\\/\\//i.test(value) ? null : local(value);
      if (data) el.setAttribute(name, data);
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

function json(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}
