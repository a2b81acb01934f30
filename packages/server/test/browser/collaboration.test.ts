import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ShardId } from '@tandem/protocol';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { artifactPath, editorUrl, newUserPage, useWebEditor, editorText, fileInDatabase } from './support/browser.js';

/** The README's picture; rewritten when missing or with TANDEM_UPDATE_SCREENSHOT=1. */
const README_SCREENSHOT = fileURLToPath(new URL('../../../../docs/screenshot.png', import.meta.url));

async function openEditor(page: Page, url: string, path: string): Promise<void> {
  await page.goto(url);
  await page.locator(`.cm-content[data-path="${path}"]`).waitFor({ timeout: 20_000 });
}

describe('the web editor, two users in a real browser', () => {
  const web = useWebEditor();

  it('merges simultaneous typing, shows the other caret and presence, and saves to the database', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Pair programming');
    const alice = await newUserPage(web.browser);
    const bob = await newUserPage(web.browser);
    try {
      const [aliceToken, bobToken] = await Promise.all([
        tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } }),
        tokenFor({ sub: 'bob', name: 'Bob', shards: { [shardId]: 'write' } }),
      ]);
      await Promise.all([
        openEditor(alice.page, editorUrl(web.server.url, shardId, aliceToken), 'src/main.js'),
        openEditor(bob.page, editorUrl(web.server.url, shardId, bobToken), 'src/main.js'),
      ]);
      const original = await editorText(alice.page);

      // Alice types at the top, Bob at the bottom, both at once.
      await alice.page.locator('.cm-content').click();
      await alice.page.keyboard.press('Control+Home');
      await bob.page.locator('.cm-content').click();
      await bob.page.keyboard.press('Control+End');
      await Promise.all([
        alice.page.keyboard.type('// Alice was here\n', { delay: 15 }),
        bob.page.keyboard.type('\n// Bob was here too', { delay: 15 }),
      ]);

      const merged = await waitFor(
        async () => {
          const [a, b] = await Promise.all([editorText(alice.page), editorText(bob.page)]);
          return a === b && a.includes('// Alice was here') && a.includes('// Bob was here too') ? a : undefined;
        },
        15_000,
        'both editors to converge',
      );
      expect(merged).toBe(`// Alice was here\n${original}\n// Bob was here too`);

      // Each sees the other's caret, labelled with the other's name, and the presence entry.
      await alice.page.locator('.cm-ySelectionCaret', { hasText: 'Bob' }).waitFor({ timeout: 10_000 });
      await bob.page.locator('.cm-ySelectionCaret', { hasText: 'Alice' }).waitFor({ timeout: 10_000 });
      await alice.page.locator('.presence-item[data-name="Bob"][data-file="src/main.js"]').waitFor();
      await bob.page.locator('.presence-item[data-name="Alice"][data-file="src/main.js"]').waitFor();

      // "All changes saved" means the database holds the edits.
      for (const page of [alice.page, bob.page]) {
        await page
          .locator('.status-badge[data-status="saved"]', { hasText: 'All changes saved' })
          .waitFor({ timeout: 20_000 });
      }
      expect(await fileInDatabase(web.server, shardId, 'src/main.js')).toBe(merged);

      await alice.page.screenshot({ path: artifactPath('two-users-alice.png') });
      await bob.page.screenshot({ path: artifactPath('two-users-bob.png') });
      if (!existsSync(README_SCREENSHOT) || process.env['TANDEM_UPDATE_SCREENSHOT'] === '1') {
        mkdirSync(dirname(README_SCREENSHOT), { recursive: true });
        await alice.page.screenshot({ path: README_SCREENSHOT });
        expect(statSync(README_SCREENSHOT).size).toBeLessThanOrEqual(150 * 1024);
      }
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });

  it('shows files created, renamed and deleted by one user to the other', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'File operations');
    const alice = await newUserPage(web.browser);
    const bob = await newUserPage(web.browser);
    try {
      const [aliceToken, bobToken] = await Promise.all([
        tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } }),
        tokenFor({ sub: 'bob', name: 'Bob', shards: { [shardId]: 'write' } }),
      ]);
      await Promise.all([
        openEditor(alice.page, editorUrl(web.server.url, shardId, aliceToken), 'src/main.js'),
        openEditor(bob.page, editorUrl(web.server.url, shardId, bobToken), 'src/main.js'),
      ]);

      await alice.page.locator('[data-action="new-file"]').click();
      await alice.page.locator('dialog input').fill('src/util.js');
      await alice.page.keyboard.press('Enter');
      await alice.page.locator('.cm-content[data-path="src/util.js"]').waitFor();
      await alice.page.keyboard.type('export const answer = 42;');
      await bob.page.locator('.tree-row[data-path="src/util.js"]').waitFor();

      const row = alice.page.locator('.tree-row[data-path="src/util.js"]');
      await row.hover();
      await row.getByRole('button', { name: 'Rename src/util.js' }).click();
      await alice.page.locator('dialog input').fill('src/lib/util.js');
      await alice.page.keyboard.press('Enter');
      await bob.page.locator('.tree-row[data-path="src/lib/util.js"]').waitFor();
      await bob.page.locator('.tree-row[data-path="src/util.js"]').waitFor({ state: 'detached' });
      // The renamed file keeps its content and stays open in Alice's tab under its new name.
      await alice.page.locator('.tab[data-path="src/lib/util.js"]').waitFor();
      await bob.page.locator('.tree-row[data-path="src/lib/util.js"]').click();
      await bob.page
        .locator('.cm-content[data-path="src/lib/util.js"]', { hasText: 'export const answer = 42;' })
        .waitFor();

      const renamed = alice.page.locator('.tree-row[data-path="src/lib/util.js"]');
      await renamed.hover();
      await renamed.getByRole('button', { name: 'Delete src/lib/util.js' }).click();
      await alice.page.locator('dialog').getByRole('button', { name: 'Delete' }).click();
      await bob.page.locator('.tree-row[data-path="src/lib/util.js"]').waitFor({ state: 'detached' });
      // Bob had it open: its tab closes.
      await bob.page.locator('.tab[data-path="src/lib/util.js"]').waitFor({ state: 'detached' });

      await waitFor(
        async () => (await fileInDatabase(web.server, shardId, 'src/lib/util.js')) === undefined,
        20_000,
        'the delete to be saved',
      );
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });

  it('creates a shard from a template on the home page', async () => {
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(`${web.server.url}/#token=${encodeURIComponent(await adminToken())}`);
      const card = page.locator('.template-card[data-template-id="react"]');
      await card.waitFor();
      expect(await card.textContent()).toContain('react 19.3.1');
      await page.locator('#shard-name').fill('My React app');
      await card.locator('[data-action="create"]').click();
      await page.waitForURL(/\/s\/[0-9a-f-]{36}$/);
      await page.locator('.cm-content[data-path="src/App.jsx"]').waitFor({ timeout: 20_000 });
      await expect(page.locator('.shard-name').textContent()).resolves.toBe('My React app');

      const shardId = new URL(page.url()).pathname.split('/').pop() as ShardId;
      const stored = await web.server.app.repository.findById(shardId);
      expect(stored?.name).toBe('My React app');
      expect(stored?.templateId).toBe('react');

      // The home page lists it as a recent project.
      await page.goto(web.server.url);
      await page.locator(`.recent-list li[data-shard-id="${shardId}"]`).waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('gives a viewer link whose editor cannot type', async () => {
    const shardId = await createShard(web.server.url, 'static', 'Read only');
    const owner = await newUserPage(web.browser);
    const viewer = await newUserPage(web.browser);
    try {
      const ownerToken = await tokenFor({ sub: 'owner', name: 'Owner', shards: { [shardId]: 'write' } });
      await openEditor(owner.page, editorUrl(web.server.url, shardId, ownerToken), 'index.html');
      await owner.page.locator('[data-action="share-read"]').click();
      const link = await owner.page.locator('dialog .share-url').inputValue();
      expect(link).toMatch(new RegExp(`/s/${shardId}#token=`));
      await owner.page.locator('dialog').getByRole('button', { name: 'Close' }).click();

      await openEditor(viewer.page, link, 'index.html');
      await viewer.page.locator('[data-testid="read-only"]').waitFor();
      expect(await viewer.page.locator('.cm-content').getAttribute('contenteditable')).toBe('false');
      expect(await viewer.page.locator('[data-action="new-file"]').count()).toBe(0);
      const before = await editorText(viewer.page);
      await viewer.page.locator('.cm-content').click();
      await viewer.page.keyboard.type('viewer typing');

      // The owner types after the viewer: once the viewer sees it, the viewer's keys would have shown too.
      await owner.page.locator('.cm-content').click();
      await owner.page.keyboard.press('Control+End');
      await owner.page.keyboard.type('<!-- owner -->');
      const after = await waitFor(async () => {
        const text = await editorText(viewer.page);
        return text.includes('<!-- owner -->') ? text : undefined;
      });
      expect(after).not.toContain('viewer typing');
      expect(after).toBe(`${before}<!-- owner -->`);
      expect(await editorText(owner.page)).toBe(after);

      // Viewers may still download the project.
      const [download] = await Promise.all([
        viewer.page.waitForEvent('download'),
        viewer.page.locator('[data-action="download"]').click(),
      ]);
      expect(download.suggestedFilename()).toBe('Read-only.zip');
      expect([...owner.errors, ...viewer.errors]).toEqual([]);
    } finally {
      await owner.context.close();
      await viewer.context.close();
    }
  });

  it('keeps edits made offline, says so, and merges them on reconnect', async () => {
    const shardId = await createShard(web.server.url, 'static', 'Offline');
    const alice = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } });
      await openEditor(alice.page, editorUrl(web.server.url, shardId, token), 'index.html');
      await alice.page.locator('.status-badge[data-status="saved"]').waitFor({ timeout: 20_000 });
      await alice.context.setOffline(true);
      await alice.page.locator('.status-badge[data-status="offline"]').waitFor({ timeout: 20_000 });
      await alice.page.locator('.cm-content').click();
      await alice.page.keyboard.press('Control+End');
      await alice.page.keyboard.type('<!-- written offline -->');
      await alice.page.locator('.status-badge', { hasText: 'Offline · unsynced edits kept' }).waitFor();
      await alice.context.setOffline(false);
      await alice.page.locator('.status-badge[data-status="saved"]').waitFor({ timeout: 30_000 });
      await waitFor(
        async () => (await fileInDatabase(web.server, shardId, 'index.html'))?.endsWith('<!-- written offline -->'),
        20_000,
        'the offline edit to be saved',
      );
      expect(alice.errors).toEqual([]);
    } finally {
      await alice.context.close();
    }
  });

  it('serves the editor for any app path but keeps API 404s as JSON', async () => {
    const spa = await fetch(`${web.server.url}/s/not-a-shard`);
    expect(spa.status).toBe(200);
    expect(spa.headers.get('content-type')).toContain('text/html');
    const api = await fetch(`${web.server.url}/healthz/nope`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const asset = await fetch(`${web.server.url}/assets/missing.js`);
    expect(asset.status).toBe(404);
    const config = await fetch(`${web.server.url}/config.json`);
    expect(await config.json()).toEqual({
      previewCdnUrl: 'http://127.0.0.1:9',
      preview: { origin: web.server.previewUrl },
      devToken: false,
    });
    expect((await fetch(`${web.server.url}/dev/token`)).status).toBe(404);
  });
});
