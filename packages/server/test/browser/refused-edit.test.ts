import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { editorUrl, newUserPage, useWebEditor, editorText, fileInDatabase } from './support/browser.js';

/**
 * Path 3b of the trust issue in the browser: a paste the server refuses for good is not silently
 * lost behind "All changes saved". The editor says what happened in plain words, offers the text
 * back, shows the server's text, and later typing is saved.
 */
describe('the web editor when the server refuses an edit', () => {
  // Small limits, so a paste of a few KiB is refused (PAYLOAD_TOO_LARGE).
  const web = useWebEditor({ env: { MAX_FILE_BYTES: '4096', MAX_UPDATE_BYTES: '5120', SYNC_INTERVAL_MS: '200' } });

  it('shows a banner with the text to copy or download, returns to the server text, and saves later typing', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Refusals');
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } });
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      const original = await editorText(page);
      await page.locator('.status-badge[data-status="saved"]').waitFor({ timeout: 20_000 });

      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      const paste = `/* pasted */ ${'x'.repeat(6000)}`;
      await page.keyboard.insertText(paste);

      const banner = page.locator('.notice[data-kind="refused"][data-path="src/main.js"]');
      await banner.waitFor({ timeout: 10_000 });
      expect(await banner.textContent()).toContain(
        'Your change to src/main.js was not saved: the change was too large to send in one piece',
      );
      expect(await banner.textContent()).not.toMatch(/PAYLOAD_TOO_LARGE|file:edit/);
      // The editor shows the server's text again.
      await waitFor(async () => (await editorText(page)) === original, 10_000, 'the editor back to the server text');

      // The user's text, as it was, is offered for download.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        banner.getByRole('button', { name: 'Download my text' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('main.js');
      expect(readFileSync(await download.path(), 'utf8')).toBe(paste + original);

      // Not "saved" while the refusal stands.
      expect(await page.locator('.status-badge').getAttribute('data-status')).not.toBe('saved');
      await banner.getByRole('button', { name: 'Dismiss' }).click();
      await banner.waitFor({ state: 'detached' });

      // Later edits to the file work again.
      await page.locator('.cm-content').click();
      await page.keyboard.press('Control+Home');
      await page.keyboard.type('// after\n', { delay: 10 });
      await page
        .locator('.status-badge[data-status="saved"]', { hasText: 'All changes saved' })
        .waitFor({ timeout: 20_000 });
      expect(await fileInDatabase(web.server, shardId, 'src/main.js')).toBe(`// after\n${original}`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
