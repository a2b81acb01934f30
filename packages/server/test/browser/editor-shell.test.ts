import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { artifactPath, editorUrl, newUserPage, useWebEditor } from './support/browser.js';

/** The paths of the open tabs, in order, and the active one. */
async function tabs(page: Page): Promise<{ open: string[]; active: string | null }> {
  return page.locator('.tabs .tab').evaluateAll((items) => ({
    open: items.map((tab) => tab.getAttribute('data-path') ?? ''),
    active: items.find((tab) => tab.getAttribute('aria-selected') === 'true')?.getAttribute('data-path') ?? null,
  }));
}

describe('the web editor shell (tabs, tree, dialogs, name, panels, recent projects)', () => {
  const web = useWebEditor();

  it('opens the template tabs, switches and closes them, and collapses folders', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Shell tabs');
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'tess', name: 'Tess', shards: { [shardId]: 'write' } });
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      expect(await tabs(page)).toEqual({ open: ['src/main.js', 'index.html', 'src/style.css'], active: 'src/main.js' });
      await page.screenshot({ path: artifactPath('editor-shell.png') });

      // A tree row opens its file in a new tab and marks the row.
      await page.locator('.tree-row[data-path="src/counter.js"]').click();
      await page.locator('.cm-content[data-path="src/counter.js"]').waitFor();
      expect((await tabs(page)).active).toBe('src/counter.js');
      expect(await page.locator('.tree-row.active').getAttribute('data-path')).toBe('src/counter.js');

      // Closing the active tab shows its neighbour; closing the last one leaves a hint.
      await page.getByRole('button', { name: 'Close src/counter.js' }).click();
      await page.locator('.cm-content[data-path="src/style.css"]').waitFor();
      expect(await tabs(page)).toEqual({
        open: ['src/main.js', 'index.html', 'src/style.css'],
        active: 'src/style.css',
      });
      for (const path of ['src/style.css', 'index.html', 'src/main.js'])
        await page.getByRole('button', { name: `Close ${path}` }).click();
      await page.getByText('Open a file from the tree.').waitFor();
      expect(await page.locator('.cm-content').count()).toBe(0);
      expect(await page.locator('.tree-row.active').count()).toBe(0);

      // A folder collapses and opens again.
      const src = page.locator('.tree-row[data-path="src"]');
      expect(await src.locator('xpath=..').getAttribute('aria-expanded')).toBe('true');
      await src.click();
      await page.locator('.tree-row[data-path="src/main.js"]').waitFor({ state: 'detached' });
      expect(await src.locator('xpath=..').getAttribute('aria-expanded')).toBe('false');
      await src.click();
      await page.locator('.tree-row[data-path="src/main.js"]').waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('cancels a dialog with Escape, renames the user for everyone, and shows the preview as a side panel', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Shell dialogs');
    const alice = await newUserPage(web.browser);
    const bob = await newUserPage(web.browser);
    try {
      const [aliceToken, bobToken] = await Promise.all([
        tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } }),
        tokenFor({ sub: 'bob', name: 'Bob', shards: { [shardId]: 'write' } }),
      ]);
      await alice.page.goto(editorUrl(web.server.url, shardId, aliceToken));
      await bob.page.goto(editorUrl(web.server.url, shardId, bobToken));
      await alice.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      await bob.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });

      // Escape closes the prompt and creates nothing.
      await alice.page.locator('[data-action="new-file"]').click();
      await alice.page.locator('dialog input').fill('never.js');
      await alice.page.keyboard.press('Escape');
      await alice.page.locator('dialog').waitFor({ state: 'detached' });
      expect(await alice.page.locator('.tree-row[data-path="never.js"]').count()).toBe(0);

      // A new name reaches the other person's presence list.
      const name = alice.page.getByRole('textbox', { name: 'Your name' });
      await name.fill('Alice Cooper');
      await name.press('Enter');
      await alice.page.locator('.presence-item.self[data-name="Alice Cooper"]').waitFor();
      await bob.page.locator('.presence-item[data-name="Alice Cooper"][data-file="src/main.js"]').waitFor();

      // The preview is the side area's panel: a selected tab and its visible tab panel.
      const tab = alice.page.locator('.panel-area-side [role="tab"][data-panel="preview"]');
      expect(await tab.getAttribute('aria-selected')).toBe('true');
      expect(await tab.textContent()).toBe('Preview');
      await alice.page.locator('.panel-area-side [role="tabpanel"][data-panel="preview"] iframe').waitFor();
      await waitFor(
        async () => Number(await alice.page.locator('.preview-frame').getAttribute('data-builds')) > 0,
        20_000,
        'the first preview build',
      );
      // No bottom panel is registered yet: the area is not rendered.
      expect(await alice.page.locator('.panel-area-bottom').count()).toBe(0);
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });

  it('lists opened projects on the home page, forgets one for good, and explains a missing project', async () => {
    const shardId = await createShard(web.server.url, 'static', 'Shell recent');
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'rita', name: 'Rita', shards: { [shardId]: 'write' } });
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content').waitFor({ timeout: 20_000 });
      await page.locator('.brand').click();
      const item = page.locator(`.recent-list li[data-shard-id="${shardId}"]`);
      await item.waitFor({ timeout: 20_000 });
      expect(await item.locator('a').textContent()).toBe('Shell recent');
      await page.getByRole('button', { name: 'Forget Shell recent' }).click();
      await item.waitFor({ state: 'detached' });
      await page.reload();
      // Rita's token cannot create projects: no templates are offered, and it says why.
      await page.locator('[data-testid="cannot-create"]').waitFor({ timeout: 20_000 });
      expect(await page.locator('.template-card').count()).toBe(0);
      expect(await page.locator(`.recent-list li[data-shard-id="${shardId}"]`).count()).toBe(0);

      // A project that does not exist says so (to someone allowed to see every project) and leads back home.
      await page.goto(editorUrl(web.server.url, '00000000-0000-4000-8000-000000000000', await adminToken()));
      await page.getByRole('heading', { name: 'Project not found' }).waitFor({ timeout: 20_000 });
      await page.getByRole('link', { name: 'Back to projects' }).click();
      await page.locator('.template-card').first().waitFor({ timeout: 20_000 });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
