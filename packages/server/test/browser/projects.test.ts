import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { artifactPath, editorUrl, newUserPage, useWebEditor } from './support/browser.js';

/** The paths of the open tabs, in order, and the active one. */
async function tabs(page: Page): Promise<{ open: string[]; active: string | null }> {
  return page.locator('.tabs .tab').evaluateAll((items) => ({
    open: items.map((tab) => tab.getAttribute('data-path') ?? ''),
    active: items.find((tab) => tab.getAttribute('aria-selected') === 'true')?.getAttribute('data-path') ?? null,
  }));
}

function homeUrl(base: string, token: string): string {
  return `${base}/#token=${encodeURIComponent(token)}`;
}

describe('projects in the web editor: dashboard, fork, quick open, search, files renamed under you', () => {
  const web = useWebEditor();

  const rest = (token: string) => new TandemRest({ url: web.server.url, token });

  it('lists your projects on the home page, renames and deletes them; a link that cannot create is not offered Create', async () => {
    const token = await tokenFor({ sub: 'dana', name: 'Dana', create: true });
    const first = (await rest(token).createShard({ templateId: 'vanilla', name: 'Dana first' })).shard;
    const second = (await rest(token).createShard({ templateId: 'react', name: 'Dana second' })).shard;
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(homeUrl(web.server.url, token));
      const rows = page.locator('[data-testid="your-projects"] .project-row');
      await rows.first().waitFor({ timeout: 20_000 });
      expect(await rows.locator('.project-name').allTextContents()).toEqual(['Dana second', 'Dana first']);
      await page.screenshot({ path: artifactPath('dashboard.png') });

      // Rename through the dialog.
      await page.locator(`.project-row[data-shard-id="${first.id}"] [data-action="rename-project"]`).click();
      const field = page.getByRole('textbox', { name: 'Rename project' });
      await field.fill('Dana renamed');
      await field.press('Enter');
      await page
        .locator(`.project-row[data-shard-id="${first.id}"] .project-name`, { hasText: 'Dana renamed' })
        .waitFor();
      expect((await rest(token).getShard(first.id)).shard.name).toBe('Dana renamed');

      // Delete after confirming.
      await page.locator(`.project-row[data-shard-id="${second.id}"] [data-action="delete-project"]`).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await page.locator(`.project-row[data-shard-id="${second.id}"]`).waitFor({ state: 'detached' });
      await expect(rest(token).getShard(second.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(rest(await adminToken()).getShard(second.id)).rejects.toMatchObject({ code: 'SHARD_NOT_FOUND' });
      // The list comes from the server: a reload shows the same.
      await page.reload();
      await rows.first().waitFor();
      expect(await rows.locator('.project-name').allTextContents()).toEqual(['Dana renamed']);
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }

    // A share link's guest: the shared project is listed, nothing to create.
    const { token: guest } = await rest(token).shareToken(first.id, 'read');
    const visitor = await newUserPage(web.browser);
    try {
      await visitor.page.goto(homeUrl(web.server.url, guest));
      await visitor.page.locator('[data-testid="cannot-create"]').waitFor({ timeout: 20_000 });
      expect(await visitor.page.locator('[data-action="create"]').count()).toBe(0);
      await visitor.page.locator(`.project-row[data-shard-id="${first.id}"]`).waitFor();
      expect(await visitor.page.locator('[data-action="delete-project"]').count()).toBe(0);
    } finally {
      await visitor.context.close();
    }
  });

  it('forks a project with edits not yet saved, and the fork opens as your own', async () => {
    const ownerToken = await tokenFor({ sub: 'olga', name: 'Olga', create: true });
    const { shard } = await rest(ownerToken).createShard({ templateId: 'vanilla', name: 'Original' });
    const owner = await newUserPage(web.browser);
    const forker = await newUserPage(web.browser);
    try {
      await owner.page.goto(editorUrl(web.server.url, shard.id, ownerToken));
      await owner.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      await owner.page.locator('.cm-content').click();
      await owner.page.keyboard.press('Control+Home');
      await owner.page.keyboard.type('// typed just now\n');
      await waitFor(async () =>
        (await rest(ownerToken).readFile(shard.id, 'src/main.js')).content.startsWith('// typed just now'),
      );

      const forkerToken = await tokenFor({ sub: 'felix', name: 'Felix', create: true, shards: { [shard.id]: 'read' } });
      await forker.page.goto(editorUrl(web.server.url, shard.id, forkerToken));
      await forker.page.locator('[data-testid="read-only"]').waitFor({ timeout: 20_000 });
      await forker.page.locator('[data-action="fork"]').click();
      await forker.page.waitForURL((url) => url.pathname.startsWith('/s/') && !url.pathname.includes(shard.id));
      const forkId = new URL(forker.page.url()).pathname.slice('/s/'.length);
      await forker.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      // Felix owns the fork: he may write, and it holds Olga's unsaved line.
      expect(await forker.page.locator('[data-testid="read-only"]').count()).toBe(0);
      await forker.page.locator('.cm-content', { hasText: '// typed just now' }).waitFor();
      expect(await forker.page.locator('[data-testid="shard-name"]').textContent()).toBe('Original (fork)');
      const forked = await rest(forkerToken).getShard(forkId);
      expect(forked.shard.ownerId).toBe('felix');
      expect(owner.errors.concat(forker.errors)).toEqual([]);
    } finally {
      await owner.context.close();
      await forker.context.close();
    }
  });

  it('quick open finds a file by a few letters; search finds text in files not opened and jumps to the line', async () => {
    const token = await tokenFor({ sub: 'quinn', name: 'Quinn', create: true });
    const { shard } = await rest(token).createShard({ templateId: 'vanilla', name: 'Findable' });
    await rest(token).writeFile(
      shard.id,
      'src/deep/helpers.js',
      'export const a = 1;\n\nexport function findMe() {}\n',
    );
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(editorUrl(web.server.url, shard.id, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });

      await page.keyboard.press('Control+p');
      const quick = page.getByRole('textbox', { name: 'Go to file' });
      await quick.waitFor();
      await quick.type('dphelp');
      await page.locator('.quick-open-item.selected[data-path="src/deep/helpers.js"]').waitFor();
      await quick.press('Enter');
      await page.locator('.cm-content[data-path="src/deep/helpers.js"]').waitFor();
      expect((await tabs(page)).active).toBe('src/deep/helpers.js');

      // Back to another file, then search for text that is only in helpers.js and index.html's neighbours.
      await page.locator('.tree-row[data-path="index.html"]').click();
      await page.locator('.cm-content[data-path="index.html"]').waitFor();
      await page.keyboard.press('Control+Shift+F');
      const search = page.getByRole('searchbox', { name: 'Search all files' });
      await search.waitFor({ state: 'visible' });
      await waitFor(() => search.evaluate((el) => el === document.activeElement));
      await search.type('findMe');
      await search.press('Enter');
      await page.locator('[data-testid="search-summary"]', { hasText: '1 matches in 1 files' }).waitFor();
      await page.screenshot({ path: artifactPath('search.png') });
      await page.locator('.search-file[data-path="src/deep/helpers.js"] .search-match[data-line="3"]').click();
      await page.locator('.cm-content[data-path="src/deep/helpers.js"]').waitFor();
      // The cursor is on line 3 with the match selected.
      await waitFor(async () =>
        (await page.evaluate(() => window.getSelection()?.toString() ?? '')) === 'findMe' ? true : null,
      );
      expect(await page.locator('.cm-activeLine').textContent()).toBe('export function findMe() {}');
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('opens search, quick open and the other panels on a phone (390×844) and at 1024×768, by button and by shortcut', async () => {
    const token = await tokenFor({ sub: 'nora', name: 'Nora', create: true });
    const { shard } = await rest(token).createShard({ templateId: 'vanilla', name: 'Narrow screens' });
    await rest(token).writeFile(
      shard.id,
      'src/deep/helpers.js',
      'export const a = 1;\n\nexport function findMe() {}\n',
    );
    const { context, page, errors } = await newUserPage(web.browser);
    const search = page.getByRole('searchbox', { name: 'Search all files' });
    const sidePanels = page.locator('.panel-area-side');
    const isFocused = () => search.evaluate((el) => el === document.activeElement);
    const findAndJump = async (shot: string) => {
      await search.fill('findMe');
      await search.press('Enter');
      await page.locator('[data-testid="search-summary"]', { hasText: '1 matches in 1 files' }).waitFor();
      await page.screenshot({ path: artifactPath(shot) });
      await page.locator('.search-file[data-path="src/deep/helpers.js"] .search-match[data-line="3"]').click();
      await page.locator('.cm-content[data-path="src/deep/helpers.js"]').waitFor();
      await waitFor(async () =>
        (await page.locator('.cm-activeLine').textContent()) === 'export function findMe() {}' ? true : null,
      );
    };
    const quickOpen = async (open: () => Promise<void>, path: string) => {
      await open();
      const field = page.getByRole('textbox', { name: 'Go to file' });
      await field.waitFor();
      await field.type(path === 'index.html' ? 'indexht' : 'dphelp');
      await page.locator(`.quick-open-item.selected[data-path="${path}"]`).waitFor();
      await field.press('Enter');
      await page.locator(`.cm-content[data-path="${path}"]`).waitFor();
      expect((await tabs(page)).active).toBe(path);
    };
    try {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(editorUrl(web.server.url, shard.id, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      // No room for the panels' column: they are closed, and the buttons are there.
      expect(await sidePanels.isVisible()).toBe(false);
      for (const action of ['search', 'quick-open', 'panels'])
        expect(await page.locator(`[data-action="${action}"]`).isVisible(), action).toBe(true);

      // The search button opens search as a drawer over the editor, focused; a result closes it.
      await page.locator('[data-action="search"]').click();
      await search.waitFor({ state: 'visible' });
      await waitFor(isFocused);
      const drawer = await sidePanels.boundingBox();
      expect(drawer?.width ?? 0).toBeGreaterThan(300);
      await findAndJump('search-phone.png');
      await search.waitFor({ state: 'hidden' });

      // The shortcut does the same; Escape and the close button close it.
      await page.keyboard.press('Control+Shift+F');
      await search.waitFor({ state: 'visible' });
      await waitFor(isFocused);
      await page.keyboard.press('Escape');
      await search.waitFor({ state: 'hidden' });
      // The other panels: Panels opens the drawer where it was, its tabs switch.
      await page.locator('[data-action="panels"]').click();
      await sidePanels.waitFor({ state: 'visible' });
      await page.locator('.panel-area-side [role="tab"][data-panel="history"]').click();
      await page.locator('.panel-area-side [role="tabpanel"][data-panel="history"]').waitFor({ state: 'visible' });
      await page.locator('[data-action="close-panels"]').click();
      await sidePanels.waitFor({ state: 'hidden' });

      // Quick open, by button and by shortcut.
      await quickOpen(() => page.locator('[data-action="quick-open"]').click(), 'index.html');
      await quickOpen(() => page.keyboard.press('Control+p'), 'src/deep/helpers.js');

      // A tablet (768×1024): still a drawer, and the header with its Panels button fits.
      await page.setViewportSize({ width: 768, height: 1024 });
      expect(await page.locator('[data-action="panels"]').isVisible()).toBe(true);
      const tablet = await page
        .locator('.editor-page > .topbar')
        .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      expect(tablet.scroll).toBeLessThanOrEqual(tablet.client);
      await page.screenshot({ path: artifactPath('tablet.png') });

      // 1024×768: the panels are a column again (no Panels button, no close button); shortcut and button still work.
      await page.setViewportSize({ width: 1024, height: 768 });
      await sidePanels.waitFor({ state: 'visible' });
      expect(await page.locator('[data-action="panels"]').isVisible()).toBe(false);
      expect(await page.locator('[data-action="close-panels"]').isVisible()).toBe(false);
      const bar = await page
        .locator('.editor-page > .topbar')
        .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      expect(bar.scroll).toBeLessThanOrEqual(bar.client);
      await page.locator('.panel-area-side [role="tab"][data-panel="preview"]').click();
      await page.keyboard.press('Control+Shift+F');
      await search.waitFor({ state: 'visible' });
      await waitFor(isFocused);
      await page.locator('.tree-row[data-path="index.html"]').click();
      await page.locator('.panel-area-side [role="tab"][data-panel="preview"]').click();
      await page.locator('[data-action="search"]').click();
      await search.waitFor({ state: 'visible' });
      await findAndJump('search-1024.png');
      // The column stays after the jump.
      expect(await search.isVisible()).toBe(true);
      await quickOpen(() => page.locator('[data-action="quick-open"]').click(), 'index.html');
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('tells you when someone renames or deletes your open file, the tab follows the rename, and the whole project going away', async () => {
    const token = await tokenFor({ sub: 'rita', name: 'Rita', create: true });
    const { shard } = await rest(token).createShard({ templateId: 'vanilla', name: 'Moving files' });
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      // Files the preview does not load (renaming src/main.js would break index.html's script tag).
      await rest(token).writeFile(shard.id, 'notes.md', '# Notes\n');
      await rest(token).writeFile(shard.id, 'todo.txt', 'a list\n');
      await page.goto(editorUrl(web.server.url, shard.id, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      await page.locator('.tree-row[data-path="todo.txt"]').click();
      await page.locator('.cm-content[data-path="todo.txt"]').waitFor();
      await page.locator('.tree-row[data-path="notes.md"]').click();
      await page.locator('.cm-content[data-path="notes.md"]').waitFor();
      expect(await tabs(page)).toEqual({
        open: ['src/main.js', 'index.html', 'src/style.css', 'todo.txt', 'notes.md'],
        active: 'notes.md',
      });

      // Someone else (REST here) renames the open, active file: the tab keeps its place under the new name.
      const admin = await adminToken();
      const response = await fetch(`${web.server.url}/shards/${shard.id}/move`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'notes.md', to: 'docs/notes.md' }),
      });
      expect(response.status).toBe(200);
      await page.locator('.toast', { hasText: 'notes.md was renamed to docs/notes.md' }).waitFor();
      await page.locator('.cm-content[data-path="docs/notes.md"]').waitFor();
      expect(await tabs(page)).toEqual({
        open: ['src/main.js', 'index.html', 'src/style.css', 'todo.txt', 'docs/notes.md'],
        active: 'docs/notes.md',
      });
      await page.locator('.cm-content', { hasText: '# Notes' }).waitFor();

      // Deleting an open tab's file closes the tab and says so.
      await rest(admin).deleteFile(shard.id, 'todo.txt');
      await page.locator('.toast', { hasText: 'todo.txt was deleted by someone else' }).waitFor();
      expect((await tabs(page)).open).toEqual(['src/main.js', 'index.html', 'src/style.css', 'docs/notes.md']);

      // Creating a file whose name is taken keeps the typed name and says why.
      await page.locator('[data-action="new-file"]').click();
      const name = page.getByRole('textbox', { name: 'New file (path from the project root)' });
      await name.fill('index.html');
      await name.press('Enter');
      await page.getByRole('alert').filter({ hasText: 'index.html already exists' }).waitFor();
      expect(await name.inputValue()).toBe('index.html');
      await name.fill('about.html');
      await name.press('Enter');
      await page.locator('.cm-content[data-path="about.html"]').waitFor();

      // The project is deleted while open.
      await rest(token).deleteShard(shard.id);
      await page.locator('[data-testid="project-deleted"]').waitFor();
      expect(await page.locator('.cm-content').count()).toBe(0);
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('fits the header in 1024 px and lets you read and type on a phone-sized screen; your name shows once', async () => {
    const token = await tokenFor({ sub: 'pia', name: 'Pia', create: true });
    const { shard } = await rest(token).createShard({ templateId: 'vanilla', name: 'Small screens project' });
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.setViewportSize({ width: 1024, height: 700 });
      await page.goto(editorUrl(web.server.url, shard.id, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      const overflow = await page
        .locator('.editor-page > .topbar')
        .evaluate((bar) => ({ scroll: bar.scrollWidth, client: bar.clientWidth }));
      expect(overflow.scroll).toBeLessThanOrEqual(overflow.client);
      for (const action of ['share-write', 'fork', 'download'])
        expect(await page.locator(`[data-action="${action}"]`).isVisible()).toBe(true);
      // Your name: once, in the name field (the presence list says "You").
      expect(await page.getByText('Pia', { exact: true }).count()).toBe(0);
      expect(await page.getByRole('textbox', { name: 'Your name' }).inputValue()).toBe('Pia');
      await page.screenshot({ path: artifactPath('header-1024.png') });

      await page.setViewportSize({ width: 390, height: 760 });
      const editor = page.locator('.cm-content[data-path="src/main.js"]');
      const box = await editor.boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(300);
      await editor.click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.type('// from a phone\n');
      await waitFor(async () =>
        (await rest(token).readFile(shard.id, 'src/main.js')).content.startsWith('// from a phone'),
      );
      await page.screenshot({ path: artifactPath('phone.png') });
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
