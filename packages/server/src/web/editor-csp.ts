import type { FastifyHelmetRouteOptions } from '@fastify/helmet';

/**
 * The Content-Security-Policy of the editor's pages, as @fastify/helmet route options (the other
 * security headers are the HTTP server's, for every response).
 *
 * The preview runs on its own origin (preview-host.ts), in an iframe the editor may frame
 * (`frame-src`: PREVIEW_ORIGIN, or any host on the preview port in development); the preview
 * document does not inherit this policy. `script-src` still admits inline scripts, data: and the
 * CDN as it did for the earlier srcdoc preview ('wasm-unsafe-eval' is the preview compiler's
 * module lexer). This policy forbids framing the editor, plugins, `<base>` and foreign form
 * targets, and limits where scripts may connect to this server and the CDN.
 */
export function editorHelmetOptions(
  previewCdnUrl: string,
  preview: { origin: string } | { port: number },
): NonNullable<FastifyHelmetRouteOptions['helmet']> {
  const cdn = new URL(previewCdnUrl).origin;
  const previewSource = 'origin' in preview ? preview.origin : `http://*:${preview.port}`;
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
        frameSrc: [
          "'self'",
          'blob:',
          'data:',
          previewSource,
          ...('origin' in preview ? [] : [`https://*:${preview.port}`]),
        ],
        mediaSrc: ["'self'", 'data:', 'blob:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  };
}
