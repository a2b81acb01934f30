import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The preview origin: a second listener (PREVIEW_PORT, in production behind PREVIEW_ORIGIN) that
 * serves one page, whatever the path: a host for the preview document. The editor loads it in an
 * iframe and posts the built document to it (`{ tandem: 'render', html }`); the page writes it
 * into itself, so project code runs on this origin: it gets localStorage, sessionStorage,
 * cookies, alert/confirm and history like any page, and being cross-origin to the editor it
 * cannot read the editor's DOM, storage or token. Nothing else is served here (no API, no
 * editor), so nothing on this origin is worth stealing. Every path answers with the page, so a
 * reload after `history.pushState('/posts/1')` (Next.js routes) still finds it.
 */
export const PREVIEW_HOST_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Preview</title></head>
<body>
<script>
(() => {
  addEventListener('message', (event) => {
    const data = event.data;
    if (event.source !== parent || !data || data.tandem !== 'render' || typeof data.html !== 'string') return;
    document.open();
    document.write(data.html);
    document.close();
  });
  parent.postMessage({ tandem: 'preview', type: 'ready', build: new URLSearchParams(location.search).get('tandem-build') }, '*');
})();
</script>
</body>
</html>
`;

export type PreviewHost = { port: number; close(): Promise<void> };

/** Starts the preview origin's listener on `host`:`port` (0 picks a free port). */
export async function startPreviewHost(options: { host: string; port: number }): Promise<PreviewHost> {
  const server = createServer(handlePreviewRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new Error(
          `the preview origin cannot listen on ${options.host}:${options.port} (PREVIEW_PORT): ${error.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET/HEAD of any path: the host page; anything else: 405. */
export function handlePreviewRequest(request: IncomingMessage, response: ServerResponse): void {
  const headers = {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    response.end('the preview origin serves only its page\n');
    return;
  }
  if ((request.url ?? '/').startsWith('/favicon.ico')) {
    response.writeHead(404, headers).end();
    return;
  }
  response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
  response.end(request.method === 'HEAD' ? undefined : PREVIEW_HOST_PAGE);
}
