import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode } from '@tandem/protocol';
import type { AuthService } from '../auth/index.js';
import { isLoopbackHost, isSameOrigin } from '../auth/index.js';
import { editorHelmetOptions } from './editor-csp.js';

/** What `GET /config.json` tells the editor. */
export type WebConfig = {
  /** Base URL of the esm.sh-compatible CDN the live preview loads dependencies from. */
  previewCdnUrl: string;
  /** Whether `GET /dev/token` hands out development tokens (TANDEM_INSECURE_DEV). */
  devToken: boolean;
};

export type WebRoutesOptions = {
  /** The built editor: a folder holding index.html and assets/. */
  distDir: string;
  /** PREVIEW_CDN_URL. */
  previewCdnUrl: string;
  /**
   * Mints the admin token of `GET /dev/token`. Give it only when TANDEM_INSECURE_DEV is set: the
   * route then lets this server's own pages, opened on a loopback address, act as an admin (any
   * other Host, which a DNS-rebinding page would send, or a foreign Origin is refused).
   */
  devTokenAuth?: Pick<AuthService, 'mint'>;
};

/**
 * Paths that belong to the API (or to socket.io) and never fall back to the editor's index.html,
 * so a mistyped API URL still gets a JSON 404 instead of an HTML page.
 */
const API_PREFIXES = [
  '/shards',
  '/templates',
  '/socket.io',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/dev/',
];

/** `packages/web-editor/dist`, found from this file both in `src/web/` and in the built `dist/web/`. */
export function defaultWebDistDir(): string {
  return fileURLToPath(new URL('../../../web-editor/dist/', import.meta.url));
}

/** Whether `distDir` holds a built editor. */
export function hasWebDist(distDir: string): boolean {
  return existsSync(join(distDir, 'index.html'));
}

/**
 * Routes of the browser editor, for createApp's `extraRoutes`: files of the build (hashed assets
 * cached for a year, the rest revalidated), an SPA fallback to index.html for any other GET that
 * is neither an API path nor a file name, `GET /config.json`, and `GET /dev/token` when
 * `devTokenAuth` is given. These paths are outside the API prefixes, so the HTTP server's auth
 * hook leaves them public.
 */
export function createWebRoutes(options: WebRoutesOptions): (app: FastifyInstance) => Promise<void> {
  const config: WebConfig = { previewCdnUrl: options.previewCdnUrl, devToken: options.devTokenAuth !== undefined };
  // These routes are outside the API and public (the HTTP server's auth hook reads the flag), and
  // their pages get the editor's CSP.
  const publicRoute = { config: { public: true }, helmet: editorHelmetOptions(options.previewCdnUrl) };
  return async (app) => {
    app.get('/config.json', publicRoute, async (_request, reply) =>
      reply.header('cache-control', 'no-store').send(config),
    );

    const auth = options.devTokenAuth;
    if (auth !== undefined) {
      app.get('/dev/token', publicRoute, async (request, reply) => {
        const refusal = devTokenRefusal(request);
        if (refusal !== null) {
          return reply
            .status(403)
            .header('cache-control', 'no-store')
            .send({ error: { code: ErrorCode.FORBIDDEN, message: refusal } });
        }
        const token = await auth.mint({ sub: 'dev', name: 'Developer', role: 'admin', create: true });
        return reply.header('cache-control', 'no-store').send({ token });
      });
    }

    // Only the reply.sendFile decorator: the catch-all route below decides what each path is,
    // reading the folder per request, so a rebuild is served without a restart.
    await app.register(fastifyStatic, {
      root: options.distDir,
      serve: false,
      cacheControl: false,
      setHeaders: (res, path) => {
        // Vite names files under assets/ by content hash; everything else may change in place.
        const immutable = /[\\/]assets[\\/]/.test(path);
        res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });

    app.get('/*', publicRoute, async (request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      const file = await builtFile(options.distDir, path);
      if (file !== null) return reply.sendFile(file);
      if (isApiPath(path) || /\.[A-Za-z0-9]{1,8}$/.test(path)) {
        return reply
          .status(404)
          .send({ error: { code: ErrorCode.NOT_FOUND, message: `no route ${request.method} ${path}` } });
      }
      return reply.sendFile('index.html');
    });
  };
}

/**
 * Why `GET /dev/token` refuses this request, or null. Only a page of this server opened on a
 * loopback address gets a token: the Host must be loopback (a DNS-rebinding page sends its own
 * name), an Origin, when sent, must be this server's, and Sec-Fetch-Site, when sent, must say the
 * request comes from the same origin or from the user (typing the URL).
 */
function devTokenRefusal(request: FastifyRequest): string | null {
  const host = request.headers.host;
  if (!isLoopbackHost(host)) {
    return 'development tokens are only handed out on a loopback address (open the editor at http://localhost:<port> or http://127.0.0.1:<port>)';
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !isSameOrigin(origin, host)) {
    return `development tokens are only handed to this server's own pages, not to ${origin}`;
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return "development tokens are only handed to this server's own pages";
  }
  return null;
}

/** The file of the build that `urlPath` names, relative to distDir; null for folders, misses and escapes. */
async function builtFile(distDir: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    // A malformed escape names no file.
    return null;
  }
  const relativePath = normalize(decoded).replace(/^[\\/]+/, '');
  if (relativePath === '' || relativePath.startsWith('..') || decoded.includes('\0')) return null;
  const absolute = resolve(distDir, relativePath);
  if (!absolute.startsWith(resolve(distDir) + sep)) return null;
  try {
    return (await stat(absolute)).isFile() ? relativePath.split(sep).join('/') : null;
  } catch {
    // Not in the build: the caller falls back to the editor or a 404.
    return null;
  }
}

function isApiPath(path: string): boolean {
  return API_PREFIXES.some((prefix) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix));
}
