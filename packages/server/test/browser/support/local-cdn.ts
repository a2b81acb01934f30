import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build, type Plugin } from 'esbuild';

/**
 * A stand-in for esm.sh on 127.0.0.1, so preview tests never leave the machine: the pinned
 * packages (installed from npm as devDependencies of @tandem/web-editor) prebundled to ES modules
 * with esbuild, served at the URLs buildImportMap emits (`/react@19.3.1?external=react-dom`,
 * `/react-dom@19.3.1&external=react/client`, `/vue@3.5.45`…; the query is ignored).
 */
export type LocalCdn = { url: string; close(): Promise<void> };

/** One package of the mirror: its subpath entries, and which packages stay external (bare imports). */
export type CdnPackage = {
  name: string;
  version: string;
  entries: string[];
  format: 'cjs' | 'esm';
  external: string[];
};

/** The runtime dependencies of the browser templates, at the versions they pin. */
export const TEMPLATE_PACKAGES: CdnPackage[] = [
  { name: 'react', version: '19.3.1', entries: ['', 'jsx-runtime', 'jsx-dev-runtime'], format: 'cjs', external: [] },
  { name: 'react-dom', version: '19.3.1', entries: ['', 'client'], format: 'cjs', external: ['react'] },
  { name: 'vue', version: '3.5.45', entries: [''], format: 'esm', external: [] },
  {
    name: 'svelte',
    version: '5.57.3',
    entries: [
      '',
      'internal/client',
      'internal/disclose-version',
      'internal/flags/legacy',
      'internal/flags/async',
      'store',
      'reactivity',
      'motion',
      'transition',
      'easing',
      'animate',
      'events',
    ],
    format: 'esm',
    external: [],
  },
  { name: 'solid-js', version: '1.9.19', entries: ['', 'web', 'store'], format: 'esm', external: [] },
  {
    name: 'preact',
    version: '10.29.8',
    entries: ['', 'hooks', 'jsx-runtime', 'jsx-dev-runtime'],
    format: 'esm',
    external: [],
  },
];

const requireFromWeb = createRequire(new URL('../../../../web-editor/package.json', import.meta.url));

export async function startLocalCdn(packages: CdnPackage[] = TEMPLATE_PACKAGES): Promise<LocalCdn> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cdn-'));
  for (const pkg of packages) await bundlePackage(pkg, join(dir, `${pkg.name}@${pkg.version}`));
  const server = createServer((request, response) => {
    const headers = { 'access-control-allow-origin': '*', 'cache-control': 'no-store' };
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://cdn').pathname);
    if (pathname.startsWith('/_files/')) {
      const file = normalize(join(dir, pathname.slice('/_files/'.length)));
      if (!file.startsWith(dir) || !isFile(file)) return void response.writeHead(404, headers).end('not found');
      response.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(file));
      return;
    }
    // /<name>@<version>[&query]/[subpath]: the `&…` part is esm.sh's query for prefix entries.
    const match = /^\/((?:@[^/@]+\/)?[^/@&?]+)@([^/&?]+)(?:&[^/]*)?(?:\/(.*))?$/.exec(pathname);
    const pkg = packages.find((p) => p.name === match?.[1] && p.version === match?.[2]);
    const entry = match?.[3] ?? '';
    if (pkg === undefined || !pkg.entries.includes(entry))
      return void response.writeHead(404, headers).end('not found');
    // A redirect makes the module's URL the file's, so its relative chunk imports resolve.
    response.writeHead(302, { ...headers, location: `/_files/${pkg.name}@${pkg.version}/${entryFile(entry)}` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await closeServer(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function entryFile(entry: string): string {
  return `${entry === '' ? 'index' : entry.replaceAll('/', '__')}.js`;
}

async function bundlePackage(pkg: CdnPackage, outdir: string): Promise<void> {
  const version = (requireFromWeb(`${pkg.name}/package.json`) as { version: string }).version;
  if (version !== pkg.version)
    throw new Error(
      `${pkg.name}@${pkg.version} is needed, ${version} is installed (npm install -w @tandem/web-editor)`,
    );
  const entryPoints = Object.fromEntries(
    pkg.entries.map((entry) => [entryFile(entry).slice(0, -3), `entry:${specifier(pkg.name, entry)}`]),
  );
  await build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: false,
    logLevel: 'error',
    absWorkingDir: requireFromWeb.resolve(`${pkg.name}/package.json`).replace(/package\.json$/, ''),
    define: {
      'process.env.NODE_ENV': '"production"',
      __VUE_OPTIONS_API__: 'true',
      __VUE_PROD_DEVTOOLS__: 'false',
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    },
    plugins: [entriesPlugin(pkg), externalsPlugin(pkg.external)],
  });
}

function specifier(name: string, entry: string): string {
  return entry === '' ? name : `${name}/${entry}`;
}

/** Each entry re-exports its module; a CommonJS one (React) gets its named exports listed. */
function entriesPlugin(pkg: CdnPackage): Plugin {
  return {
    name: 'entries',
    setup(build) {
      build.onResolve({ filter: /^entry:/ }, (args) => ({
        path: args.path.slice('entry:'.length),
        namespace: 'entry',
      }));
      build.onLoad({ filter: /.*/, namespace: 'entry' }, (args) => {
        const resolveDir = requireFromWeb.resolve(`${pkg.name}/package.json`).replace(/package\.json$/, '');
        if (pkg.format === 'esm') return { contents: `export * from ${JSON.stringify(args.path)};`, resolveDir };
        const names = Object.keys(requireFromWeb(args.path) as Record<string, unknown>).filter(
          (n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n),
        );
        return {
          contents: `import m from ${JSON.stringify(args.path)};\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`,
          resolveDir,
        };
      });
    },
  };
}

/**
 * Leaves other packages as bare imports (the import map resolves them). A CommonJS `require()`
 * of one would become esbuild's throwing `__require` shim in ESM output, so it goes through an
 * ES module that re-exports the external package instead.
 */
function externalsPlugin(external: string[]): Plugin {
  const isExternal = (path: string) => external.some((name) => path === name || path.startsWith(`${name}/`));
  return {
    name: 'externals',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!isExternal(args.path)) return undefined;
        if (args.namespace === 'external-cjs' || args.kind !== 'require-call')
          return { path: args.path, external: true };
        return { path: args.path, namespace: 'external-cjs' };
      });
      build.onLoad({ filter: /.*/, namespace: 'external-cjs' }, (args) => ({
        contents: `export * from ${JSON.stringify(args.path)};\nexport { default } from ${JSON.stringify(args.path)};\n`,
      }));
    },
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    // Missing: a 404.
    return false;
  }
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
