import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { artifactPath, editorUrl, newUserPage, useWebEditor } from './support/browser.js';

async function openHistory(page: Page): Promise<void> {
  await page.locator('.panel-area-side [role="tab"][data-panel="history"]').click();
  await page.locator('[role="tabpanel"][data-panel="history"] .history-item[data-reason="created"]').waitFor();
}

/** The text CodeMirror shows for one side of the merge view (lines it renders). */
function sideText(page: Page, label: string): Promise<string> {
  return page.locator(`.history-merge .cm-content[aria-label="${label}"]`).innerText();
}

describe('the History panel', () => {
  const web = useWebEditor();

  it('shows the timeline, a side-by-side diff against now, names a version and restores a file and the whole project live', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'History panel');
    const rest = new TandemRest({ url: web.server.url, token: await adminToken() });
    const original = (await rest.readFile(shardId, 'src/main.js')).content;
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
      const bobMain = bob.page.locator('.editor-host .cm-content[data-path="src/main.js"]');
      await bobMain.waitFor({ timeout: 20_000 });

      // Bob types a line at the top of main.js.
      await bobMain.click();
      await bob.page.keyboard.press('Control+Home');
      await bob.page.keyboard.type('// typed by bob\n');
      await waitFor(
        async () => (await rest.readFile(shardId, 'src/main.js')).content.startsWith('// typed by bob'),
        10_000,
        "bob's edit reaches the server",
      );

      // Bob has his History panel open; Alice names this version from hers.
      await openHistory(bob.page);
      await openHistory(alice.page);
      await alice.page.locator('[data-action="name-version"]').click();
      await alice.page.locator('dialog input').fill('Bob was here');
      await alice.page.locator('dialog button[type="submit"]').click();
      await alice.page
        .locator('.history-item[data-reason="named"] .history-title', { hasText: 'Bob was here' })
        .waitFor();
      const named = alice.page.locator('.history-item[data-reason="named"]');
      expect(await named.locator('.history-authors').innerText()).toContain('Bob');
      // Bob's panel shows it without a refresh (the room's shard:checkpointed notice).
      await bob.page
        .locator('.history-item[data-reason="named"] .history-title', { hasText: 'Bob was here' })
        .waitFor({ timeout: 10_000 });

      // Selecting the first version lists its files with how they differ now; one shows side by side.
      await alice.page.locator('.history-item[data-reason="created"] button').click();
      const mainRow = alice.page.locator('.history-file[data-path="src/main.js"]');
      await waitFor(async () => (await mainRow.getAttribute('data-status')) === 'modified', 10_000, 'main.js changed');
      expect(await alice.page.locator('.history-file[data-path="index.html"]').getAttribute('data-status')).toBe(
        'unchanged',
      );
      await mainRow.locator('button').click();
      await alice.page.locator('.history-merge .cm-mergeView').waitFor();
      await waitFor(async () => (await sideText(alice.page, 'src/main.js now')).includes('// typed by bob'), 5000);
      expect(await sideText(alice.page, 'src/main.js then')).not.toContain('// typed by bob');
      expect(await alice.page.locator('.history-merge .cm-changedLine').count()).toBeGreaterThan(0);
      await alice.page.screenshot({ path: artifactPath('history-panel.png') });

      // Restore the file: Bob's open editor goes back to the original text, and both hear of it.
      await alice.page.locator('[data-action="restore-file"]').click();
      await alice.page.locator('dialog button.danger').click();
      await waitFor(
        async () => !(await bobMain.innerText()).includes('// typed by bob'),
        10_000,
        'restored live for bob',
      );
      // Nothing changed since the named version, so that one is the state to undo to.
      const namedSeq = await named.getAttribute('data-seq');
      await bob.page
        .locator('.toast', { hasText: `Alice restored src/main.js to version 1 (undo: restore version ${namedSeq})` })
        .waitFor();
      await waitFor(async () => (await rest.readFile(shardId, 'src/main.js')).content === original, 5000);

      // Restore the whole project: a deleted file comes back, an added one goes, for everyone.
      await rest.deleteFile(shardId, '.gitignore');
      await rest.writeFile(shardId, 'extra.js', 'export const extra = 1;\n');
      await bob.page.locator('.tree-row[data-path="extra.js"]').waitFor();
      await alice.page.locator('[data-action="history-refresh"]').click();
      await alice.page.locator('.history-item[data-reason="created"] button').click();
      await alice.page.locator('.history-file[data-path=".gitignore"][data-status="removed"]').waitFor();
      await alice.page.locator('.history-file[data-path="extra.js"][data-status="added"]').waitFor();
      await alice.page.locator('[data-action="restore-project"]').click();
      await alice.page.locator('dialog button.danger').click();
      await bob.page.locator('.tree-row[data-path=".gitignore"]').waitFor();
      await bob.page.locator('.tree-row[data-path="extra.js"]').waitFor({ state: 'detached' });
      await bob.page.locator('.toast', { hasText: 'restored the whole project to version 1' }).waitFor();
      expect([...alice.errors, ...bob.errors]).toEqual([]);
    } finally {
      await alice.context.close();
      await bob.context.close();
    }
  });

  it('shows a binary file as changed instead of side by side, and restores its bytes', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'History binary');
    const rest = new TandemRest({ url: web.server.url, token: await adminToken() });
    const first = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    await rest.uploadFile(shardId, 'logo.png', first, 'image/png');
    const { checkpoint } = await rest.nameVersion(shardId, 'first logo');
    await rest.uploadFile(shardId, 'logo.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 9]), 'image/png');
    const alice = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'alice', name: 'Alice', shards: { [shardId]: 'write' } });
      await alice.page.goto(editorUrl(web.server.url, shardId, token));
      await alice.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      await openHistory(alice.page);
      await alice.page.locator(`.history-item[data-seq="${checkpoint.seq}"] button`).click();
      const row = alice.page.locator('.history-file[data-path="logo.png"]');
      await waitFor(async () => (await row.getAttribute('data-status')) === 'modified', 10_000, 'logo.png changed');
      await row.locator('button').click();
      await alice.page.locator('.history-binary[data-binary-changed="true"]').waitFor();
      expect(await alice.page.locator('.history-merge').count()).toBe(0);
      await alice.page.locator('[data-action="restore-file"]').click();
      await alice.page.locator('dialog button.danger').click();
      await waitFor(
        async () => {
          const now = (await rest.readBinaryFile(shardId, 'logo.png')).bytes;
          return now.length === first.length && now.every((b, i) => b === first[i]);
        },
        10_000,
        'the first bytes are back',
      );
      expect(alice.errors).toEqual([]);
    } finally {
      await alice.context.close();
    }
  });

  it('lets a viewer browse the history without restore or naming buttons', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'History viewer');
    const viewer = await newUserPage(web.browser);
    try {
      const token = await tokenFor({ sub: 'vera', name: 'Vera', shards: { [shardId]: 'read' } });
      await viewer.page.goto(editorUrl(web.server.url, shardId, token));
      await viewer.page.locator('.cm-content[data-path="src/main.js"]').waitFor({ timeout: 20_000 });
      await openHistory(viewer.page);
      await viewer.page.locator('.history-item[data-reason="created"] button').click();
      await viewer.page.locator('.history-file[data-path="src/main.js"] button').click();
      await viewer.page.locator('.history-merge .cm-mergeView').waitFor();
      expect(await viewer.page.locator('[data-action="name-version"]').count()).toBe(0);
      expect(await viewer.page.locator('[data-action="restore-file"]').count()).toBe(0);
      expect(await viewer.page.locator('[data-action="restore-project"]').count()).toBe(0);
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });
});
