import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * Options of @fastify/helmet for every response: `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, cross-origin opener and
 * resource policies, and a CSP that lets an API answer load nothing and be framed by nobody
 * (`default-src 'none'; frame-ancestors 'none'`). The web editor's routes replace the CSP with
 * theirs (web/editor-csp.ts). HSTS is left to the TLS terminator: this server speaks plain HTTP,
 * and a development server on localhost must not pin HTTPS for the host.
 */
export function securityHeaders(): FastifyHelmetOptions {
  return {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  };
}
