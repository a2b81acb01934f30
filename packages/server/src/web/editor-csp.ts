import type { FastifyHelmetRouteOptions } from '@fastify/helmet';

/**
 * The Content-Security-Policy of the editor's pages, as @fastify/helmet route options (the other
 * security headers are the HTTP server's, for every response).
 *
 * The editor's preview is an `allow-scripts` sandboxed iframe whose document is a `srcdoc`, and a
 * srcdoc document inherits the CSP of the page that embeds it. So `script-src` must admit what a
 * preview runs: its inline scripts and import map ('unsafe-inline'), the project's modules (data:
 * URLs) and the dependencies from PREVIEW_CDN_URL. The sandbox (an opaque origin, which the API's
 * origin check refuses) keeps preview code away from the editor's token; this policy forbids
 * framing the editor, plugins, `<base>` and foreign form targets, and limits where scripts may
 * connect to this server and the CDN.
 */
export function editorHelmetOptions(previewCdnUrl: string): NonNullable<FastifyHelmetRouteOptions['helmet']> {
  const cdn = new URL(previewCdnUrl).origin;
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // 'wasm-unsafe-eval': the preview compiler's module lexer is WebAssembly (no JS eval).
        scriptSrc: ["'self'", "'unsafe-inline'", "'wasm-unsafe-eval'", 'data:', 'blob:', cdn],
        // The preview's compiler runs in a Web Worker from 'self'.
        workerSrc: ["'self'", 'blob:'],
        // CodeMirror and the preview set inline styles.
        styleSrc: ["'self'", "'unsafe-inline'", cdn],
        imgSrc: ["'self'", 'data:', 'blob:', 'https:'],
        fontSrc: ["'self'", 'data:', cdn],
        // 'self' covers the socket.io WebSocket to the same host (CSP Level 3).
        connectSrc: ["'self'", cdn],
        frameSrc: ["'self'", 'blob:', 'data:'],
        mediaSrc: ["'self'", 'data:', 'blob:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  };
}
