import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { ShardId } from '@tandem/protocol';
import { createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { editorUrl, newUserPage, type WebTestServer, useWebEditor } from './support/browser.js';

async function fileInDatabase(server: WebTestServer, shardId: ShardId, path: string): Promise<string | undefined> {
  const shard = await server.app.repository.findById(shardId);
  return shard?.files.find((f) => f.path === path)?.content;
}

async function renameInTree(page: Page, from: string, to: string): Promise<void> {
  const row = page.locator(`.tree-row[data-path="${from}"]`);
  await row.hover();
  await row.getByRole('button', { name: `Rename ${from}` }).click();
  await page.locator('dialog input').fill(to);
  await page.keyboard.press('Enter');
}

/**
 * Path 4 of the trust issue in the browser: files created and renamed offline are kept, shown as
 * waiting, applied on reconnect; one that no longer applies is explained in plain words.
 */
describe('the web editor, file operations made offline', () => {
  const web = useWebEditor();

  it('queues them, shows how many wait, applies them on reconnect and explains the one that failed', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Offline file operations');
    const alice = await newUserPage(web.browser);
    const bob = await newUserPage(web.browser);
    try {
      const [aliceToken, bobToken] = await Promise.all([
        tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } }),
        tokenFor({ sub: 'bob', name: 'Bob', shards: { [shardId]: 'write' } }),
      ]);
      await alice.page.goto(editorUrl(web.server.url, shardId, aliceToken));
      await bob.page.goto(editorUrl(web.server.url, shardId, bobToken));
      for (const p of [alice.page, bob.page])
        await p.locator('.status-badge[data-status="saved"]').waitFor({ timeout: 20_000 });

      await alice.context.setOffline(true);
      await alice.page.locator('.status-badge[data-status="offline"]').waitFor({ timeout: 20_000 });
      await alice.page.locator('[data-action="new-file"]').click();
      await alice.page.locator('dialog input').fill('src/offline.js');
      await alice.page.keyboard.press('Enter');
      await alice.page.locator('.cm-content[data-path="src/offline.js"]').waitFor();
      await alice.page.locator('.cm-content').click();
      await alice.page.keyboard.type('// typed offline');
      await renameInTree(alice.page, '.gitignore', 'ignored.txt');
      await alice.page
        .locator('[data-testid="queued-ops"]', { hasText: '2 changes waiting for connection' })
        .waitFor({ timeout: 5000 });
      await alice.page.locator('.tree-row[data-path="ignored.txt"]').waitFor();

      // Meanwhile Bob moves the file Alice renamed.
      await renameInTree(bob.page, '.gitignore', '.gitignore.old');
      await bob.page.locator('.tree-row[data-path=".gitignore.old"]').waitFor();

      await alice.context.setOffline(false);
      const notice = alice.page.locator('.notice[data-kind="op-failed"]');
      await notice.waitFor({ timeout: 30_000 });
      expect(await notice.textContent()).toContain(
        'Could not rename .gitignore to ignored.txt: .gitignore no longer exists — someone renamed or deleted it while you were offline',
      );
      expect(await notice.textContent()).not.toMatch(/FILE_NOT_FOUND|shard:join|NOT_JOINED/);
      await alice.page.locator('[data-testid="queued-ops"]').waitFor({ state: 'hidden' });
      await alice.page.locator('.tree-row[data-path=".gitignore.old"]').waitFor();
      await alice.page.locator('.tree-row[data-path="ignored.txt"]').waitFor({ state: 'detached' });
      await bob.page.locator('.tree-row[data-path="src/offline.js"]').waitFor({ timeout: 10_000 });
      await waitFor(
        async () => (await fileInDatabase(web.server, shardId, 'src/offline.js')) === '// typed offline',
        20_000,
        'the file created offline, with its text, in the database',
      );
      await notice.getByRole('button', { name: 'Dismiss' }).click();
      await alice.page.locator('.status-badge[data-status="saved"]').waitFor({ timeout: 20_000 });
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });
});
