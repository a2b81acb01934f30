import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createShard, tokenFor } from '../support/test-app.js';
import { startLocalCdn, type LocalCdn } from './support/local-cdn.js';
import { editorUrl, launchBrowser, newUserPage, startWebServer, type WebTestServer } from './support/browser.js';

describe('debug', () => {
  let cdn: LocalCdn;
  let server: WebTestServer;
  let browser: Browser;
  beforeAll(async () => {
    cdn = await startLocalCdn();
    [server, browser] = await Promise.all([startWebServer({ previewCdnUrl: cdn.url }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await cdn?.close();
  });
  for (const t of (process.env['DBG'] ?? 'angular').split(',')) {
    it(
      t,
      async () => {
        const shardId = await createShard(server.url, t, 'x');
        const token = await tokenFor({ sub: 'p', name: 'P', shards: { [shardId]: 'write' } });
        const { context, page } = await newUserPage(browser);
        page.on('console', (m) => console.log('EDITOR', m.type(), m.text()));
        page.on('response', (r) => {
          if (r.status() >= 400) console.log('HTTP', r.status(), r.url());
        });
        page.on('framenavigated', (f) => console.log('NAV', f.url().slice(0, 100)));
        await page.goto(editorUrl(server.url, shardId, token));
        await new Promise((r) => setTimeout(r, 12000));
        console.log('STATE', await page.locator('.preview-state').textContent());
        console.log('WARN', await page.locator('.preview-problems').textContent());
        console.log('OVERLAY', await page.locator('.preview-overlay').textContent());
        console.log('CONSOLE', (await page.locator('.console-line').allTextContents()).join('\n'));
        const frame = page.frameLocator('iframe.preview-frame');
        console.log(
          'BODY',
          (
            await frame
              .locator('app-root')
              .first()
              .evaluate((e) => e.outerHTML)
          ).slice(0, 1500),
        );
        await context.close();
      },
      60000,
    );
  }
});
