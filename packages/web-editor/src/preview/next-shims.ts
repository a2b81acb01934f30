/**
 * The Next.js pages router in the browser preview: small shims of ours for the `next/*` modules a
 * pages-router app imports, and the entry that turns `pages/**` into routes. Not Next.js itself
 * (its dev server is Node): the shims cover what a page needs to render and navigate. What runs
 * on a server (getStaticProps, getServerSideProps) is explained on the page, and API routes run
 * in the browser with a small req/res.
 *
 * Covered: `pages/` routes (index, nested, `[param]`, `[...slug]`, `[[...slug]]`), `pages/_app`,
 * `pages/404`, `next/link`, `next/router` (useRouter, withRouter, Router.push/replace/back,
 * query, events), `next/head`, `next/image` (a plain `<img>`), `next/dynamic`, `next/script`,
 * `getInitialProps`, API routes under `pages/api/` (called through `fetch('/api/…')`).
 */

/** The `next/*` modules the preview provides, specifier → module source. */
export const NEXT_SHIMS: Readonly<Record<string, string>> = {
  'next/router': routerShim(),
  'next/link': linkShim(),
  'next/head': headShim(),
  'next/image': imageShim(),
  'next/dynamic': dynamicShim(),
  'next/script': scriptShim(),
};

/** The `next/*` imports a project may use, for the message about one that is not covered. */
export const NEXT_COVERED = Object.keys(NEXT_SHIMS);

const PAGE_EXTENSIONS = /\.(?:jsx?|tsx?|mjs)$/;

/** A page of the `pages/` folder and the route it answers. */
export type NextRoute = { pattern: string; file: string };

/** The routes of `pages/**` (not `_app`, `_document`, `_error`, `api/`), most specific first. */
export function nextRoutes(paths: Iterable<string>): { pages: NextRoute[]; apis: NextRoute[] } {
  const pages: NextRoute[] = [];
  const apis: NextRoute[] = [];
  for (const file of paths) {
    if (!file.startsWith('pages/') || !PAGE_EXTENSIONS.test(file) || file.endsWith('.d.ts')) continue;
    const route = file
      .slice('pages'.length)
      .replace(PAGE_EXTENSIONS, '')
      .replace(/\/index$/, '');
    const pattern = route === '' ? '/' : route;
    if (pattern.startsWith('/api/') || pattern === '/api') apis.push({ pattern, file });
    else if (!/^\/_(app|document|error)$/.test(pattern)) pages.push({ pattern, file });
  }
  const rank = (r: NextRoute) =>
    r.pattern.split('/').map((s) => (s.startsWith('[[...') ? 3 : s.startsWith('[...') ? 2 : s.startsWith('[') ? 1 : 0));
  const compare = (a: NextRoute, b: NextRoute) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
      const d = (ra[i] ?? -1) - (rb[i] ?? -1);
      if (d !== 0) return d;
    }
    return a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0;
  };
  return { pages: pages.sort(compare), apis: apis.sort(compare) };
}

/**
 * The entry module: imports `_app` (or a plain one) and mounts the router with a lazy import per
 * page. Its project imports are root-absolute (`/pages/x.js`), rewritten like any module's.
 */
export function nextEntry(routes: { pages: NextRoute[]; apis: NextRoute[] }, app: string | null): string {
  const table = (list: NextRoute[]) =>
    `[${list.map((r) => `{ pattern: ${JSON.stringify(r.pattern)}, file: ${JSON.stringify(r.file)}, load: () => import(${JSON.stringify(`/${r.file}`)}) }`).join(',\n  ')}]`;
  return [
    `import { __mount } from 'next/router';`,
    app === null ? `const App = null;` : `import App from ${JSON.stringify(`/${app}`)};`,
    `__mount({ App, pages: ${table(routes.pages)}, apis: ${table(routes.apis)} });`,
    '',
  ].join('\n');
}

function routerShim(): string {
  return String.raw`import { createElement as h, Fragment, useSyncExternalStore, Component } from 'react';
import { createRoot } from 'react-dom/client';

const listeners = new Set();
const handlers = new Map();
const events = {
  on(type, fn) { if (!handlers.has(type)) handlers.set(type, new Set()); handlers.get(type).add(fn); },
  off(type, fn) { handlers.get(type)?.delete(fn); },
  emit(type, ...args) { for (const fn of handlers.get(type) ?? []) fn(...args); },
};
let config = null;
let root = null;
let state = { route: '/', pathname: '/', asPath: '/', query: {}, Page: null, props: {} };
let router = makeRouter();

function makeRouter() {
  return {
    route: state.route,
    pathname: state.route,
    asPath: state.asPath,
    query: state.query,
    basePath: '',
    isReady: true,
    isFallback: false,
    isPreview: false,
    isLocaleDomain: false,
    locale: undefined,
    push: (url, as, options) => navigate(url, as, options, 'push'),
    replace: (url, as, options) => navigate(url, as, options, 'replace'),
    back: () => history.back(),
    forward: () => history.forward(),
    reload: () => location.reload(),
    prefetch: () => Promise.resolve(),
    beforePopState: () => {},
    events,
  };
}

const Router = {
  get route() { return router.route; },
  get pathname() { return router.pathname; },
  get asPath() { return router.asPath; },
  get query() { return router.query; },
  get router() { return router; },
  isReady: true,
  push: (...a) => router.push(...a),
  replace: (...a) => router.replace(...a),
  back: () => router.back(),
  reload: () => router.reload(),
  prefetch: () => Promise.resolve(),
  events,
};
export default Router;

export function useRouter() {
  return useSyncExternalStore((fn) => { listeners.add(fn); return () => listeners.delete(fn); }, () => router);
}

export function withRouter(Inner) {
  const Wrapped = (props) => h(Inner, { ...props, router: useRouter() });
  Wrapped.displayName = 'withRouter(' + (Inner.displayName || Inner.name || 'Component') + ')';
  return Wrapped;
}

export function createRouter() { return router; }

/** '/posts/[id]' against '/posts/7' → { id: '7' }, or null. */
function match(pattern, pathname) {
  const want = pattern.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  const query = {};
  for (let i = 0; i < want.length; i++) {
    const seg = want[i];
    let m;
    if ((m = /^\[\[\.\.\.(.+)\]\]$/.exec(seg))) { if (got.length > i) query[m[1]] = got.slice(i); return query; }
    if ((m = /^\[\.\.\.(.+)\]$/.exec(seg))) { if (got.length <= i) return null; query[m[1]] = got.slice(i); return query; }
    if (i >= got.length) return null;
    if ((m = /^\[(.+)\]$/.exec(seg))) query[m[1]] = got[i];
    else if (seg !== got[i]) return null;
  }
  return want.length === got.length ? query : null;
}

function find(list, pathname) {
  const clean = pathname.replace(/\/+$/, '') || '/';
  for (const route of list) {
    const params = match(route.pattern, clean);
    if (params) return { route, params };
  }
  return null;
}

/** An href as Next accepts it (a string, or { pathname, query, hash }) to a path. */
function hrefToString(url) {
  if (typeof url === 'string') return url;
  if (!url) return '/';
  let path = url.pathname || location.pathname;
  const query = { ...(url.query || {}) };
  path = path.replace(/\[\[?(?:\.\.\.)?([^\]]+)\]\]?/g, (all, name) => {
    const value = query[name];
    delete query[name];
    return Array.isArray(value) ? value.map(encodeURIComponent).join('/') : encodeURIComponent(value ?? '');
  });
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const item of [].concat(v)) search.append(k, String(item));
  const qs = search.toString();
  return path + (qs ? '?' + qs : '') + (url.hash ? '#' + String(url.hash).replace(/^#/, '') : '');
}
export { hrefToString as __hrefToString };

function notice(text) {
  console.info('[next preview] ' + text);
  let box = document.getElementById('__next_preview_notice');
  if (!box) {
    box = document.createElement('div');
    box.id = '__next_preview_notice';
    box.setAttribute('role', 'note');
    box.style.cssText = 'position:fixed;right:8px;bottom:8px;max-width:360px;padding:8px 10px;background:#eff6ff;color:#1e3a8a;border:1px solid #93c5fd;border-radius:6px;font:12px/1.4 system-ui,sans-serif;z-index:2147483646';
    document.body.appendChild(box);
  }
  box.textContent = text;
}
function clearNotice() { document.getElementById('__next_preview_notice')?.remove(); }

function NotFound() {
  return h('div', { style: { fontFamily: 'system-ui, sans-serif', height: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center' } },
    h('h1', { style: { fontSize: 24, fontWeight: 500, margin: 0, paddingRight: 20, borderRight: '1px solid #ccc' } }, '404'),
    h('p', { style: { margin: 0, paddingLeft: 20 } }, 'This page could not be found.'));
}

class Boundary extends Component {
  constructor(props) { super(props); this.state = { error: null }; }
  static getDerivedStateFromError(error) { return { error }; }
  componentDidCatch(error) { reportError(error); }
  render() {
    if (this.state.error) return h('pre', { style: { color: '#9f1239', padding: 16, whiteSpace: 'pre-wrap' } }, String(this.state.error && this.state.error.message || this.state.error));
    return this.props.children;
  }
}

function render() {
  router = makeRouter();
  for (const fn of listeners) fn();
  const App = config.App || (({ Component, pageProps }) => h(Component, pageProps));
  root.render(h(Boundary, { key: state.asPath }, h(App, { Component: state.Page || NotFound, pageProps: state.props, router })));
}

async function load(asPath) {
  const url = new URL(asPath, location.href);
  const found = find(config.pages, url.pathname);
  const query = Object.fromEntries(url.searchParams);
  let Page = null;
  let props = {};
  let route = url.pathname;
  clearNotice();
  if (found) {
    Object.assign(query, found.params);
    route = found.route.pattern;
    const mod = await found.route.load();
    Page = mod.default;
    if (typeof Page !== 'function' && typeof Page !== 'object')
      throw new Error(found.route.file + ' has no default export: a page exports its React component as default');
    const server = ['getServerSideProps', 'getStaticProps'].filter((name) => typeof mod[name] === 'function');
    if (server.length > 0)
      notice(found.route.file + ': ' + server.join(' and ') + ' runs on a server, which the browser preview does not have: the page is shown with empty props. Download the project and run it with Next.js to see server data.');
    if (typeof Page.getInitialProps === 'function')
      props = (await Page.getInitialProps({ pathname: route, query, asPath: url.pathname + url.search, AppTree: config.App })) || {};
  } else {
    const custom = find(config.pages, '/404');
    if (custom) Page = (await custom.route.load()).default;
    route = '/404';
  }
  state = { route, asPath: url.pathname + url.search + url.hash, query, Page, props };
}

async function navigate(url, as, options = {}, mode = 'push') {
  const target = hrefToString(as ?? url);
  const resolved = new URL(target, location.href);
  if (resolved.origin !== location.origin) { location.href = resolved.href; return true; }
  const asPath = resolved.pathname + resolved.search + resolved.hash;
  events.emit('routeChangeStart', asPath, { shallow: !!options.shallow });
  try {
    await load(asPath);
  } catch (error) {
    events.emit('routeChangeError', error, asPath, { shallow: !!options.shallow });
    throw error;
  }
  history[mode === 'replace' ? 'replaceState' : 'pushState']({ __next: true, asPath }, '', asPath);
  render();
  if (options.scroll !== false) window.scrollTo(0, 0);
  events.emit('routeChangeComplete', asPath, { shallow: !!options.shallow });
  return true;
}

/** Runs an API route in the browser with a small req/res (Node's http objects are not here). */
async function runApi(found, request, url) {
  const mod = await found.route.load();
  const handler = mod.default;
  if (typeof handler !== 'function') throw new Error(found.route.file + ' has no default export: an API route exports its handler as default');
  const text = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text();
  let body = text;
  if ((request.headers.get('content-type') || '').includes('application/json') && text !== '') { try { body = JSON.parse(text); } catch {} }
  const headers = Object.fromEntries(request.headers);
  const query = { ...Object.fromEntries(url.searchParams), ...found.params };
  const req = { method: request.method, url: url.pathname + url.search, query, headers, body, cookies: Object.fromEntries(document.cookie.split(/;\s*/).filter(Boolean).map((c) => { const i = c.indexOf('='); return [c.slice(0, i), decodeURIComponent(c.slice(i + 1))]; })) };
  return new Promise((resolve, reject) => {
    const out = new Headers();
    let status = 200;
    const finish = (payload) => resolve(new Response(status === 204 || status === 304 ? null : payload ?? null, { status, headers: out }));
    const res = {
      statusCode: 200,
      status(code) { status = code; res.statusCode = code; return res; },
      setHeader(name, value) { out.set(name, String(value)); return res; },
      getHeader(name) { return out.get(name) ?? undefined; },
      removeHeader(name) { out.delete(name); },
      json(value) { if (!out.has('content-type')) out.set('content-type', 'application/json; charset=utf-8'); finish(JSON.stringify(value)); },
      send(value) {
        if (value !== null && typeof value === 'object' && !(value instanceof Blob) && !(value instanceof ArrayBuffer)) return res.json(value);
        finish(value);
      },
      end(value) { finish(value); },
      redirect(a, b) { status = typeof a === 'number' ? a : 307; out.set('location', typeof a === 'number' ? b : a); finish(null); },
      revalidate() { return Promise.resolve(); },
    };
    Promise.resolve().then(() => handler(req, res)).catch(reject);
  });
}

export function __mount(options) {
  config = options;
  root = createRoot(document.getElementById('__next'));
  const realFetch = window.fetch.bind(window);
  let explained = false;
  window.fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const found = url.origin === location.origin ? find(config.apis, url.pathname) : null;
    if (!found) return realFetch(input, init);
    if (!explained) {
      explained = true;
      console.info('[next preview] API routes (' + found.route.file + ') run in the browser here, with a small req/res; on a real deployment they run on the server with Node.');
    }
    try {
      return await runApi(found, request, url);
    } catch (error) {
      reportError(error);
      return new Response(JSON.stringify({ error: String(error && error.message || error) }), { status: 500, headers: { 'content-type': 'application/json' } });
    }
  };
  addEventListener('popstate', () => { load(location.pathname + location.search + location.hash).then(render, reportError); });
  load(location.pathname + location.search + location.hash).then(render, reportError);
}
`;
}

function linkShim(): string {
  return String.raw`import { createElement as h, cloneElement, isValidElement, Children, forwardRef } from 'react';
import Router, { __hrefToString } from 'next/router';

const Link = forwardRef(function Link(props, ref) {
  const { href, as, replace, scroll, shallow, prefetch, legacyBehavior, passHref, locale, children, onClick, onMouseEnter, onTouchStart, ...rest } = props;
  const target = __hrefToString(as ?? href);
  const click = (event) => {
    if (onClick) onClick(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchorTarget = event.currentTarget.getAttribute('target');
    if (anchorTarget && anchorTarget !== '_self') return;
    const url = new URL(target, location.href);
    if (url.origin !== location.origin) return;
    event.preventDefault();
    Router[replace ? 'replace' : 'push'](href, as, { scroll, shallow });
  };
  if (legacyBehavior && isValidElement(children)) {
    const child = Children.only(children);
    return cloneElement(child, { href: target, ref, onClick: (e) => { if (child.props.onClick) child.props.onClick(e); click(e); } });
  }
  return h('a', { ...rest, ref, href: target, onClick: click, onMouseEnter, onTouchStart }, children);
});
export default Link;
`;
}

function headShim(): string {
  return String.raw`import { createPortal } from 'react-dom';
export default function Head({ children }) {
  return createPortal(children, document.head);
}
`;
}

function imageShim(): string {
  return String.raw`import { createElement as h, forwardRef } from 'react';
const Image = forwardRef(function Image(props, ref) {
  const { src, alt = '', width, height, fill, loader, quality, priority, placeholder, blurDataURL, unoptimized, sizes, style, onLoadingComplete, overrideSrc, ...rest } = props;
  const source = typeof src === 'object' && src !== null ? src.src ?? src.default ?? '' : src;
  const url = loader && !unoptimized ? loader({ src: source, width: Number(width) || 0, quality }) : source;
  const fillStyle = fill ? { position: 'absolute', inset: 0, width: '100%', height: '100%', objectFit: 'cover' } : {};
  return h('img', {
    ...rest,
    ref,
    src: url,
    alt,
    sizes,
    width: fill ? undefined : width ?? (typeof src === 'object' ? src?.width : undefined),
    height: fill ? undefined : height ?? (typeof src === 'object' ? src?.height : undefined),
    loading: priority ? 'eager' : rest.loading ?? 'lazy',
    decoding: 'async',
    style: { color: 'transparent', ...fillStyle, ...style },
    onLoad: onLoadingComplete ? (e) => onLoadingComplete(e.currentTarget) : rest.onLoad,
  });
});
export default Image;
export function getImageProps(props) { return { props }; }
`;
}

function dynamicShim(): string {
  return String.raw`import { createElement as h, lazy, Suspense } from 'react';
export default function dynamic(loader, options = {}) {
  const load = typeof loader === 'function' ? loader : loader.loader;
  const Lazy = lazy(() => Promise.resolve(load()).then((m) => ({ default: m && m.default !== undefined ? m.default : m })));
  const Loading = options.loading;
  return function Dynamic(props) {
    return h(Suspense, { fallback: Loading ? h(Loading, { isLoading: true, pastDelay: true, error: null }) : null }, h(Lazy, props));
  };
}
`;
}

function scriptShim(): string {
  return String.raw`import { useEffect } from 'react';
export default function Script({ src, id, strategy, onLoad, onReady, onError, children, dangerouslySetInnerHTML, ...rest }) {
  useEffect(() => {
    if (id && document.getElementById(id)) { if (onReady) onReady(); return; }
    const el = document.createElement('script');
    if (id) el.id = id;
    for (const [k, v] of Object.entries(rest)) if (typeof v === 'string') el.setAttribute(k, v);
    if (src) el.src = src;
    else el.textContent = dangerouslySetInnerHTML ? dangerouslySetInnerHTML.__html : typeof children === 'string' ? children : '';
    el.addEventListener('load', (e) => { if (onLoad) onLoad(e); if (onReady) onReady(); });
    if (onError) el.addEventListener('error', onError);
    document.body.appendChild(el);
  }, [src, id]);
  return null;
}
`;
}
