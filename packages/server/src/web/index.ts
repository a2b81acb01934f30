/**
 * web — serves the browser editor (the built `@tandem/web-editor` in `packages/web-editor/dist`) at
 * `/` with an SPA fallback, its runtime settings at `GET /config.json`, and, only with
 * TANDEM_INSECURE_DEV, an admin development token at `GET /dev/token`. Registered into the HTTP
 * server through createApp's `extraRoutes`. Imports only auth (types) and protocol;
 * never http, realtime, shards or sync-jobs.
 */
export { createWebRoutes, defaultWebDistDir, hasWebDist, type WebRoutesOptions, type WebConfig } from './web-routes.js';
