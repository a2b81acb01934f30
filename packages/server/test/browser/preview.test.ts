import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { createShard, tokenFor } from '../support/test-app.js';
import { startLocalCdn, type LocalCdn } from './support/local-cdn.js';
import {
  artifactPath,
  editorUrl,
  launchBrowser,
  newUserPage,
  startWebServer,
  type WebTestServer,
} from './support/browser.js';

/**
 * Live preview in a real browser, for every `static` and `browser` template: dependencies come
 * from a local esm.sh stand-in (the templates' pinned React, Preact, Vue, Svelte and Solid,
 * prebundled with esbuild), so nothing leaves 127.0.0.1.
 */
describe('the live preview', () => {
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

  async function openProject(
    templateId: string,
    activeFile: string,
  ): Promise<{ page: Page; preview: FrameLocator; errors: string[]; close(): Promise<void> }> {
    const shardId = await createShard(server.url, templateId, `${templateId} preview`);
    const token = await tokenFor({ sub: 'previewer', name: 'Previewer', shards: { [shardId]: 'write' } });
    const { context, page, errors } = await newUserPage(browser);
    await page.goto(editorUrl(server.url, shardId, token));
    await page.locator(`.cm-content[data-path="${activeFile}"]`).waitFor({ timeout: 20_000 });
    return { page, preview: page.frameLocator('iframe.preview-frame'), errors, close: () => context.close() };
  }

  /** Puts the caret just before the last `suffixLength` characters of the line containing `text`, then types. */
  async function typeIntoLine(page: Page, text: string, suffixLength: number, typed: string): Promise<void> {
    await page.locator('.cm-line', { hasText: text }).first().click();
    await page.keyboard.press('End');
    for (let i = 0; i < suffixLength; i++) await page.keyboard.press('ArrowLeft');
    await page.keyboard.type(typed);
  }

  /** Every `static` and `browser` template: the file it opens, and where its heading is. */
  const cases = [
    { templateId: 'static', activeFile: 'index.html' },
    { templateId: 'vanilla', activeFile: 'src/main.js' },
    { templateId: 'vanilla-ts', activeFile: 'src/main.ts' },
    { templateId: 'react', activeFile: 'src/App.jsx' },
    { templateId: 'react-ts', activeFile: 'src/App.tsx' },
    { templateId: 'preact', activeFile: 'src/app.tsx' },
    { templateId: 'vue', activeFile: 'src/App.vue', line: 'greeting="Hello, Tandem"', suffix: '" />'.length },
    { templateId: 'vue-ts', activeFile: 'src/App.vue', line: 'greeting="Hello, Tandem"', suffix: '" />'.length },
    { templateId: 'svelte', activeFile: 'src/App.svelte' },
    { templateId: 'svelte-ts', activeFile: 'src/App.svelte' },
    { templateId: 'solid', activeFile: 'src/App.tsx' },
  ].map((c) => ({ line: '<h1>Hello, Tandem</h1>', suffix: '</h1>'.length, ...c }));

  for (const c of cases) {
    it(`renders the ${c.templateId} template and updates after an edit`, async () => {
      const project = await openProject(c.templateId, c.activeFile);
      try {
        const { page, preview } = project;
        const heading = preview.locator('h1');
        await expect(heading.textContent({ timeout: 20_000 })).resolves.toBe('Hello, Tandem');
        // The page's own script runs: its counter button counts clicks.
        const button = preview.locator('button');
        await expect(button.textContent()).resolves.toBe('Clicked 0 times');
        await button.click();
        await expect(button.textContent()).resolves.toBe('Clicked 1 time');
        // CSS imported from JS is applied.
        const styled = await preview.locator('.card').evaluate((el) => getComputedStyle(el).borderRadius);
        expect(styled).not.toBe('0px');

        await typeIntoLine(page, c.line, c.suffix, ' live');
        await preview.locator('h1', { hasText: 'Hello, Tandem live' }).waitFor({ timeout: 15_000 });
        expect(await page.locator('.preview-problems').isHidden()).toBe(true);
        expect(await preview.locator('#__tandem_error').count()).toBe(0);
        if (['react', 'vue', 'svelte'].includes(c.templateId))
          await page.screenshot({ path: artifactPath(`preview-${c.templateId}.png`) });
        expect(project.errors).toEqual([]);
      } finally {
        await project.close();
      }
    });
  }

  it('names a dependency missing from package.json instead of failing silently', async () => {
    const project = await openProject('vanilla', 'src/main.js');
    try {
      const { page, preview } = project;
      await preview.locator('h1').waitFor({ timeout: 20_000 });
      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.type("import confetti from 'canvas-confetti';\n");
      await page
        .locator('.preview-problems', { hasText: '"canvas-confetti" is not a dependency in package.json' })
        .waitFor({ timeout: 15_000 });
      await preview.locator('#__tandem_error', { hasText: 'canvas-confetti' }).waitFor();
    } finally {
      await project.close();
    }
  });

  it('explains that a Node template needs a Node runtime', async () => {
    const project = await openProject('nextjs', 'pages/index.js');
    try {
      const notice = project.page.locator('.preview-unsupported');
      await notice.waitFor();
      expect(await notice.textContent()).toContain('needs a Node runtime');
      expect(await notice.getByRole('button', { name: 'Download .zip' }).count()).toBe(1);
    } finally {
      await project.close();
    }
  });
});
