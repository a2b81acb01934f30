import { describe, expect, it } from 'vitest';
import type { FrameLocator, Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import type { ShardSession } from '@tandem/client-sdk';
import { connectClient, createShard, tokenFor } from '../support/test-app.js';
import { artifactPath, editorUrl, newUserPage, startWebServer, useWebEditor } from './support/browser.js';

/**
 * Where a screenshot goes: test-artifacts/ (gitignored), or docs/ for the README when
 * TANDEM_DOCS_SCREENSHOTS=1 (`TANDEM_DOCS_SCREENSHOTS=1 npx vitest run --project integration <this file>`).
 */
function screenshotPath(name: string): string {
  return process.env['TANDEM_DOCS_SCREENSHOTS'] === '1'
    ? fileURLToPath(new URL(`../../../../docs/${name}`, import.meta.url))
    : artifactPath(name);
}

/**
 * Live preview in a real browser, for every `static` and `browser` template: dependencies come
 * from a local esm.sh stand-in (the templates' pinned React, Preact, Vue, Svelte, Solid and
 * Angular, prebundled with esbuild), so nothing leaves 127.0.0.1. The preview runs on its own
 * origin (a second port), so these tests also cover the editor ↔ preview messages.
 */
describe('the live preview', () => {
  const web = useWebEditor({ cdn: true });

  /** The shard id of an editor page (`/s/<id>`). */
  function shardOf(page: Page): string {
    return new URL(page.url()).pathname.split('/')[2] ?? '';
  }

  /** Writes files into a shard as another collaborator would (before the browser opens it). */
  async function editShard(shardId: string, files: Record<string, string>): Promise<void> {
    const client = await connectClient(web.server.url);
    try {
      const session: ShardSession = await client.join(shardId);
      for (const [path, content] of Object.entries(files)) {
        if (session.fileId(path) === undefined) {
          await session.createFile(path, content);
          continue;
        }
        const text = await session.openFile(path);
        text.doc?.transact(() => {
          text.delete(0, text.length);
          text.insert(0, content);
        });
      }
      await session.flushed();
    } finally {
      await client.close();
    }
  }

  async function openProject(
    templateId: string,
    activeFile: string,
    files: Record<string, string> = {},
  ): Promise<{ page: Page; preview: FrameLocator; errors: string[]; close(): Promise<void> }> {
    const shardId = await createShard(web.server.url, templateId, `${templateId} preview`);
    if (Object.keys(files).length > 0) await editShard(shardId, files);
    const token = await tokenFor({ sub: 'previewer', name: 'Previewer', shards: { [shardId]: 'write' } });
    const { context, page, errors } = await newUserPage(web.browser);
    await page.goto(editorUrl(web.server.url, shardId, token));
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

  it('renders the angular template with the JIT compiler and updates after editing its template and its TS', async () => {
    const project = await openProject('angular', 'src/app/app.ts');
    try {
      const { page, preview } = project;
      const heading = preview.locator('app-root h1');
      await expect(heading.textContent({ timeout: 30_000 })).resolves.toBe('Hello, Tandem');
      const button = preview.locator('button');
      await expect(button.textContent()).resolves.toBe('Clicked 0 times');
      await button.click();
      await preview.locator('button', { hasText: 'Clicked 1 time' }).waitFor();
      // styleUrl: the component's CSS applies (Angular scopes it to the component).
      const radius = await preview.locator('.card').evaluate((el) => getComputedStyle(el).borderRadius);
      expect(radius).not.toBe('0px');

      // The TS: the signal's text.
      await typeIntoLine(page, "this.count() === 1 ? 'time' : 'times'", "'));".length, ' clicked');
      await preview.locator('button', { hasText: 'Clicked 0 times clicked' }).waitFor({ timeout: 20_000 });
      // The template (templateUrl).
      await page.locator('.tab[data-path="src/app/app.html"]').click();
      await page.locator('.cm-content[data-path="src/app/app.html"]').waitFor();
      await typeIntoLine(page, '<h1>Hello, Tandem</h1>', '</h1>'.length, ' live');
      await preview.locator('h1', { hasText: 'Hello, Tandem live' }).waitFor({ timeout: 20_000 });
      // The component's CSS (styleUrl).
      await page.locator('.tab[data-path="src/app/app.css"]').click();
      await page.locator('.cm-content[data-path="src/app/app.css"]').waitFor();
      await typeIntoLine(page, 'color: var(--accent);', 0, ' letter-spacing: 3px;');
      await expect
        .poll(() => preview.locator('h1').evaluate((el) => getComputedStyle(el).letterSpacing), { timeout: 20_000 })
        .toBe('3px');
      expect(await page.locator('.preview-overlay').isHidden()).toBe(true);
      await page.locator('.tab[data-path="src/app/app.html"]').click();
      await page.screenshot({ path: screenshotPath('preview-angular.png') });
      expect(project.errors).toEqual([]);
    } finally {
      await project.close();
    }
  });

  it('renders the nextjs template: /, next/link to a nested and a dynamic route, useRouter().query, an API route', async () => {
    const project = await openProject('nextjs', 'pages/index.js');
    try {
      const { page, preview } = project;
      await expect(preview.locator('h1').textContent({ timeout: 20_000 })).resolves.toBe('Hello, Tandem');
      // pages/api/hello.js answers fetch('/api/hello') in the browser.
      await preview.getByText('Hello from the API route (GET).').waitFor();
      // next/head set the title.
      expect(await preview.locator('title').first().textContent()).toBe('Next.js');
      const button = preview.locator('button');
      await button.click();
      await preview.locator('button', { hasText: 'Clicked 1 time' }).waitFor();

      await preview.getByRole('link', { name: 'Read the posts' }).click();
      await preview.locator('h1', { hasText: 'Posts' }).waitFor();
      // Navigation without a reload: the console (cleared on reload) keeps the API route's note.
      await page.locator('.console-line', { hasText: 'API routes' }).waitFor();
      await preview.getByRole('link', { name: 'Working together' }).click();
      await preview.locator('h1', { hasText: 'Post: working-together' }).waitFor();
      const frameUrl = await preview.locator('body').evaluate(() => location.pathname);
      expect(frameUrl).toBe('/posts/working-together');
      await page.screenshot({ path: screenshotPath('preview-nextjs.png') });
      await preview.getByRole('link', { name: 'All posts' }).click();
      await preview.locator('h1', { hasText: 'Posts' }).waitFor();
      expect(project.errors).toEqual([]);
    } finally {
      await project.close();
    }
  });

  it('explains getServerSideProps on the page instead of crashing, and names a next/* module it does not cover', async () => {
    const project = await openProject('nextjs', 'pages/index.js', {
      'pages/about.js':
        "export async function getServerSideProps() { return { props: { name: 'server' } }; }\n" +
        "export default function About({ name }) { return <h1>About {name ?? 'nobody'}</h1>; }\n",
    });
    try {
      const { page, preview } = project;
      await preview.locator('h1', { hasText: 'Hello, Tandem' }).waitFor({ timeout: 20_000 });
      await preview.locator('body').evaluate(() => {
        history.pushState({}, '', '/about');
        dispatchEvent(new PopStateEvent('popstate'));
      });
      await preview.locator('h1', { hasText: 'About nobody' }).waitFor();
      await preview
        .getByRole('note')
        .getByText(/getServerSideProps runs on a server/)
        .waitFor();
      // An import the shims do not cover is a build error naming it and what is covered.
      await editShard(shardOf(page), {
        'pages/font.js':
          "import { Inter } from 'next/font/google';\nexport default function F() { return <p>{String(Inter)}</p>; }\n",
      });
      await page.locator('.preview-overlay', { hasText: '"next/font/google" is not covered' }).waitFor();
    } finally {
      await project.close();
    }
  });

  it('resolves ^ and ~ ranges through the CDN, and names a dependency the CDN cannot serve, with its URL, once', async () => {
    const project = await openProject('react', 'src/App.jsx', {
      'package.json': JSON.stringify({
        name: 'ranges',
        private: true,
        type: 'module',
        dependencies: { react: '^19.0.0', 'react-dom': '~19.3.0', 'canvas-confetti': '^1.9.3' },
      }),
    });
    try {
      const { page, preview } = project;
      await expect(preview.locator('h1').textContent({ timeout: 20_000 })).resolves.toBe('Hello, Tandem');
      const map = await preview.locator('script[type="importmap"]').textContent();
      expect(map).toContain('/react@^19.0.0');
      expect(map).toContain('/react-dom@~19.3.0');
      expect(await page.locator('.preview-problems').isHidden()).toBe(true);

      // The mirror has no canvas-confetti: one line names it and the URL it tried.
      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.type("import confetti from 'canvas-confetti';\n");
      const overlay = page.locator('.preview-overlay');
      await overlay
        .locator('.overlay-message', {
          hasText: `Could not load the dependency "canvas-confetti" from ${web.cdn.url}/canvas-confetti@^1.9.3`,
        })
        .waitFor({ timeout: 15_000 });
      expect(await overlay.locator('.overlay-message').count()).toBe(1);
    } finally {
      await project.close();
    }
  });

  it('gives one line for a dependency no CDN can resolve, and names an undeclared import', async () => {
    const project = await openProject('vanilla', 'src/main.js', {
      'package.json': JSON.stringify({ name: 'x', private: true, dependencies: { local: 'file:../local' } }),
    });
    try {
      const { page, preview } = project;
      await preview.locator('h1').waitFor({ timeout: 20_000 });
      const warnings = page.locator('.preview-problems .problem');
      await warnings.first().waitFor();
      expect(await warnings.allTextContents()).toEqual([
        'local@file:../local is not a version or range a CDN can resolve (use a version such as "1.2.3" or "^1.2.3")',
      ]);
      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.type("import confetti from 'canvas-confetti';\n");
      await page
        .locator('.preview-overlay', { hasText: '"canvas-confetti" is not a dependency in package.json' })
        .waitFor({ timeout: 15_000 });
      await expect(page.locator('.preview-state').textContent()).resolves.toMatch(/^Build failed · showing /);
    } finally {
      await project.close();
    }
  });

  it('shows console lines, errors with their places and a syntax error whose place moves the cursor', async () => {
    const project = await openProject('react', 'src/App.jsx', {
      'src/log.js':
        "console.log('hello from the app', { answer: 42, list: [1, 2, 3] });\n" +
        "for (const n of [1, 2, 3]) console.info('three times');\n" +
        "console.warn('careful');\n" +
        "console.error('it broke');\n" +
        "Promise.reject(new Error('nobody caught me'));\n" +
        "setTimeout(() => {\n  throw new Error('thrown later');\n}, 0);\n",
    });
    try {
      const { page, preview } = project;
      await preview.locator('h1').waitFor({ timeout: 20_000 });
      await typeIntoLine(page, "import { useState } from 'react';", 0, "\nimport './log.js';");
      const consoleLines = page.locator('.preview-console .console-line');
      const hello = consoleLines.filter({ hasText: 'hello from the app' });
      await hello.waitFor({ timeout: 15_000 });
      // Objects expand.
      await hello.locator('summary').click();
      await hello.locator('.v-entry', { hasText: 'answer: 42' }).waitFor();
      // Repeated lines are counted.
      await expect(
        consoleLines.filter({ hasText: 'three times' }).locator('.console-repeat').textContent(),
      ).resolves.toBe('3');
      await consoleLines.filter({ hasText: 'careful' }).and(page.locator('.console-warn')).waitFor();
      await consoleLines.filter({ hasText: 'it broke' }).and(page.locator('.console-error')).waitFor();
      await consoleLines.filter({ hasText: 'Unhandled rejection: nobody caught me' }).waitFor();
      // The uncaught error, placed in the project's own file through the source map.
      const thrown = consoleLines.filter({ hasText: 'thrown later' });
      await expect(thrown.locator('.console-place').textContent({ timeout: 10_000 })).resolves.toBe('src/log.js:7:9');
      await page.locator('.preview-overlay', { hasText: 'thrown later' }).waitFor();
      await page.screenshot({ path: screenshotPath('preview-console.png') });
      // Reload starts a fresh page and a fresh console: the lines come once again, not twice.
      const builds = Number(await page.locator('iframe.preview-frame').getAttribute('data-builds'));
      await page.getByRole('button', { name: 'Reload' }).click();
      await page.waitForFunction(
        (before) => Number(document.querySelector('iframe.preview-frame')?.getAttribute('data-builds')) > before,
        builds,
      );
      await hello.waitFor();
      expect(await consoleLines.filter({ hasText: 'hello from the app' }).count()).toBe(1);

      // A syntax error: the overlay names file:line:col, the last good page stays, Updated does not move.
      const before = await page.locator('.preview-state').textContent();
      await typeIntoLine(page, 'const [count, setCount] = useState(0);', 0, ' const = ;');
      await page
        .locator('.preview-overlay .overlay-header', { hasText: 'Failed to build' })
        .waitFor({ timeout: 15_000 });
      const place = page.locator('.preview-overlay .overlay-place');
      await expect(place.textContent({ timeout: 15_000 })).resolves.toMatch(/^src\/App\.jsx:\d+:\d+$/);
      await page.locator('.preview-overlay .overlay-frame').waitFor();
      expect(await page.locator('.preview-state').textContent()).toBe(
        `Build failed · showing ${(before ?? '').replace('Updated ', '')}`,
      );
      expect(await page.locator('.preview-overlay .overlay-error').count()).toBe(1);
      // Clicking the place puts the cursor on that line.
      await page.keyboard.press('Control+Home');
      await place.click();
      const line = Number(/:(\d+):/.exec((await place.textContent()) ?? '')?.[1]);
      const activeLine = await page.locator('.cm-activeLine').textContent();
      const lines = await page.locator('.cm-line').allTextContents();
      expect(activeLine).toBe(lines[line - 1]);
      expect(activeLine).toContain('const = ;');
    } finally {
      await project.close();
    }
  });

  it('runs project code on its own origin: its localStorage works, the editor is out of reach', async () => {
    const project = await openProject('vanilla', 'src/main.js', {
      'src/main.js': [
        "localStorage.setItem('visits', '1');",
        "sessionStorage.setItem('tab', 'yes');",
        'const tryRead = (read) => { try { return String(read()); } catch (error) { return `blocked: ${error.name}`; } };',
        'const report = {',
        "  local: localStorage.getItem('visits'),",
        "  session: sessionStorage.getItem('tab'),",
        "  editorToken: tryRead(() => sessionStorage.getItem('tandem.token')),",
        '  parentDocument: tryRead(() => parent.document.title),',
        "  parentStorage: tryRead(() => parent.sessionStorage.getItem('tandem.token')),",
        '  topLocation: tryRead(() => top.location.href),',
        '  origin: location.origin,',
        '};',
        'document.querySelector(\'#app\').innerHTML = `<h1>Isolated</h1><pre id="report"></pre>`;',
        "document.querySelector('#report').textContent = JSON.stringify(report);",
        '',
      ].join('\n'),
    });
    try {
      const { page, preview } = project;
      const text = await preview.locator('#report').textContent({ timeout: 20_000 });
      const report = JSON.parse(text ?? '{}') as Record<string, string>;
      expect(report).toMatchObject({ local: '1', session: 'yes', editorToken: 'null', origin: web.server.previewUrl });
      expect(report['parentDocument']).toMatch(/^blocked: SecurityError/);
      expect(report['parentStorage']).toMatch(/^blocked: SecurityError/);
      expect(report['topLocation']).toMatch(/^blocked: SecurityError/);
      // The editor still has its token, and nothing of the preview's storage.
      const editor = await page.evaluate(() => ({
        token: sessionStorage.getItem('tandem.token') !== null,
        visits: localStorage.getItem('visits'),
      }));
      expect(editor).toEqual({ token: true, visits: null });
    } finally {
      await project.close();
    }
  });

  it('says once, in plain words, that the CDN is unreachable, keeps the editor working and retries when asked', async () => {
    // Nothing listens on port 9 of loopback: every package request fails like being offline.
    const offline = await startWebServer({ previewCdnUrl: 'http://127.0.0.1:9' });
    try {
      const shardId = await createShard(offline.url, 'react', 'offline preview');
      const token = await tokenFor({ sub: 'offline', name: 'Offline', shards: { [shardId]: 'write' } });
      const { context, page, errors } = await newUserPage(web.browser);
      try {
        await page.goto(editorUrl(offline.url, shardId, token));
        await page.locator('.cm-content[data-path="src/App.jsx"]').waitFor({ timeout: 20_000 });
        const notice = page.locator('.preview-notice');
        await notice
          .getByText(
            'The packages of this project cannot be loaded: http://127.0.0.1:9 does not answer. You may be offline.',
            {
              exact: false,
            },
          )
          .waitFor({ timeout: 15_000 });
        // Once: no overlay repeating it, one console line.
        expect(await page.locator('.preview-overlay').isHidden()).toBe(true);
        expect(await page.locator('.console-line', { hasText: 'does not answer' }).count()).toBe(1);
        // Editing still works: the edit is in the document and the preview rebuilt without complaint.
        await typeIntoLine(page, '<h1>Hello, Tandem</h1>', '</h1>'.length, ' offline');
        await page.locator('.cm-line', { hasText: '<h1>Hello, Tandem offline</h1>' }).waitFor();
        await page.locator('.preview-state', { hasText: 'Updated' }).waitFor();
        // Retry rebuilds and asks again.
        const builds = Number(await page.locator('iframe.preview-frame').getAttribute('data-builds'));
        await notice.getByRole('button', { name: 'Retry' }).click();
        await page.waitForFunction(
          (before) => Number(document.querySelector('iframe.preview-frame')?.getAttribute('data-builds')) > before,
          builds,
        );
        await notice.getByText('does not answer', { exact: false }).waitFor({ timeout: 15_000 });
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    } finally {
      await offline.close();
    }
  });

  it('explains that the Node template needs a Node runtime', async () => {
    const project = await openProject('node', 'index.js');
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
