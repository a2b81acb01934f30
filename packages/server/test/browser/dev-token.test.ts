import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createWebRoutes } from '../../src/web/index.js';
import { createAuthService } from '../../src/auth/index.js';
import {
  createTestDatabase,
  startTestApp,
  testConfig,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../support/test-app.js';
import { ensureWebBuild, WEB_DIST } from './support/web-build.js';
import { launchBrowser, newUserPage } from './support/browser.js';

/**
 * Development mode's token flow in a real browser: the editor, opened on a loopback address, gets
 * an admin token from `GET /dev/token` (same-origin, under the editor's CSP and origin checks) and
 * shows the home page instead of asking for a token.
 */
describe('the editor in development mode', () => {
  let db: TestDatabase;
  let server: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    await ensureWebBuild();
    db = await createTestDatabase('sqlite');
    const prefix = uniquePrefix();
    const auth = createAuthService(testConfig(prefix, db.url).auth);
    [server, browser] = await Promise.all([
      startTestApp({
        prefix,
        databaseUrl: db.url,
        extraRoutes: createWebRoutes({
          distDir: WEB_DIST,
          previewCdnUrl: 'http://127.0.0.1:9',
          preview: { port: 9 },
          devTokenAuth: auth,
        }),
      }),
      launchBrowser(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.app.close();
    await db?.drop();
  });

  for (const host of ['127.0.0.1', 'localhost']) {
    it(`signs in with the development token on http://${host}`, async () => {
      const { context, page, errors } = await newUserPage(browser);
      try {
        await page.goto(`http://${host}:${server.port}/`);
        await expect(page.locator('.home .topbar .chip').textContent({ timeout: 20_000 })).resolves.toBe(
          'Signed in as Developer',
        );
        await page.locator('.template-card').first().waitFor({ timeout: 20_000 });
        expect(await page.locator('.token-form').count()).toBe(0);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
