import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * Options of @fastify/helmet for every response: CSP, `X-Frame-Options: DENY` (and CSP
 * `frame-ancestors 'none'`), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * cross-origin opener/resource policies. HSTS is left to the TLS terminator (this server speaks
 * plain HTTP, and a development server on localhost must not pin HTTPS for the host).
 *
 * The editor's preview is an `allow-scripts` sandboxed iframe whose document is a `srcdoc`, and a
 * srcdoc document inherits the CSP of the page that embeds it. So `script-src` must admit what a
 * preview runs: its inline scripts and import map ('unsafe-inline'), the project's modules (data:
 * URLs) and the dependencies from PREVIEW_CDN_URL. The sandbox (an opaque origin, refused by the
 * API's origin check) is what keeps preview code away from the editor's token; the CSP forbids
 * framing the editor, plugins, foreign form targets and `<base>`, and keeps the editor's own
 * connections to this server and the CDN.
 */
export function securityHeaders(previewCdnUrl: string): FastifyHelmetOptions {
  const cdn = new URL(previewCdnUrl).origin;
  return {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'", 'data:', 'blob:', cdn],
        // Web workers (the preview compiler) and their lazily loaded compilers come from 'self'.
        workerSrc: ["'self'", 'blob:'],
        // CodeMirror and the preview set inline styles.
        styleSrc: ["'self'", "'unsafe-inline'", cdn],
        imgSrc: ["'self'", 'data:', 'blob:', 'https:'],
        fontSrc: ["'self'", 'data:', cdn],
        // 'self' covers the socket.io WebSocket of the same host (CSP Level 3).
        connectSrc: ["'self'", cdn],
        frameSrc: ["'self'", 'blob:', 'data:'],
        mediaSrc: ["'self'", 'data:', 'blob:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    // The editor's zip download and API are same-origin; a configured CORS origin reads the API by CORS, which CORP does not affect.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  };
}
