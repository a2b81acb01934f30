import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebRoutes } from '../../src/web/index.js';
import {
  adminToken,
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../support/test-app.js';
import { ensureWebBuild, WEB_DIST } from '../browser/support/web-build.js';

const CDN = 'https://cdn.example.com';
const PREVIEW = 'https://preview.example.com';

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name !== undefined && name !== '') out.set(name, values);
  }
  return out;
}

/**
 * The editor's security headers. The browser suites (test/browser/*.test.ts) prove the editor and
 * its preview still work under them.
 */
describe('security headers of the web editor and the API', () => {
  let db: TestDatabase;
  let server: RunningApp;

  beforeAll(async () => {
    await ensureWebBuild();
    db = await createTestDatabase('sqlite');
    server = await startTestApp({
      prefix: uniquePrefix(),
      databaseUrl: db.url,
      extraRoutes: createWebRoutes({ distDir: WEB_DIST, previewCdnUrl: `${CDN}/`, preview: { origin: PREVIEW } }),
    });
  });

  afterAll(async () => {
    await server?.app.close();
    await db?.drop();
  });

  it('sends CSP, frame protection, nosniff and a referrer policy with the editor', async () => {
    for (const path of ['/', '/s/11111111-2222-4333-8444-555555555555', '/config.json']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      const csp = directives(res.headers.get('content-security-policy'));
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.get('base-uri')).toEqual(["'self'"]);
      expect(csp.get('default-src')).toEqual(["'self'"]);
      // The preview runs on its own origin, which the editor may frame.
      expect(csp.get('frame-src')).toContain(PREVIEW);
      expect(csp.get('script-src')).toContain(CDN);
      expect(csp.get('connect-src')).toEqual(["'self'", CDN]);
      expect(csp.get('worker-src')).toContain("'self'");
    }
  });

  it('sends them with API answers and errors too', async () => {
    const ok = await fetch(`${server.url}/templates`, { headers: { authorization: `Bearer ${await adminToken()}` } });
    const refused = await fetch(`${server.url}/templates`);
    for (const res of [ok, refused]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
    expect(refused.status).toBe(401);
  });
});
