import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { zipSync } from 'fflate';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, connectClient, createShard, tokenFor } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';
import { artifactPath, editorUrl, newUserPage, useWebEditor } from './support/browser.js';

/** A 4×4 opaque red PNG. */
const RED_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEklEQVR4nGP4z8CAB+GTG8HSALfKY52fTcuYAAAAAElFTkSuQmCC',
  'base64',
);

/** Drops files on an element the way a browser does (a DataTransfer holding File objects). */
async function dropFiles(page: Page, selector: string, files: Array<{ name: string; type: string; base64: string }>) {
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return transfer;
  }, files);
  await page.locator(selector).dispatchEvent('dragover', { dataTransfer });
  await page.locator(selector).dispatchEvent('drop', { dataTransfer });
}

/** The web editor with binary files, zip import and the Dependencies panel, in a real browser. */
describe('binary files, project upload and dependencies in the web editor', () => {
  const web = useWebEditor({ cdn: true });

  it('uploads an image dropped on the file tree: it shows in the tree, as an image, in the preview and to others', async () => {
    const shardId = await createShard(web.server.url, 'static', 'Drop an image');
    const rest = new TandemRest({ url: web.server.url, token: await adminToken() });
    const html = (await rest.readFile(shardId, 'index.html')).content;
    await rest.writeFile(
      shardId,
      'index.html',
      html.replace('<h1>Hello, Tandem</h1>', '<h1>Hello, Tandem</h1><img id="dropped" src="img/logo.png" alt="logo">'),
    );
    const other = await (await connectClient(web.server.url)).join(shardId);
    const token = await tokenFor({ sub: 'dropper', name: 'Dropper', shards: { [shardId]: 'write' } });
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content[data-path="index.html"]').waitFor({ timeout: 20_000 });
      await page.locator('.tree-row[data-path="index.html"]').waitFor();
      // Not loaded yet: the preview's <img> has no file behind it.
      const preview = page.frameLocator('iframe.preview-frame');
      await preview.locator('h1').waitFor({ timeout: 20_000 });

      await page.getByRole('button', { name: 'New folder' }).click();
      await page.locator('.dialog input').fill('img');
      await page.locator('.dialog').getByRole('button', { name: 'Create' }).click();
      await page.locator('.tree-row[data-path="img"][data-kind="folder"]').waitFor();
      await dropFiles(page, '.tree-row[data-path="img"]', [
        { name: 'logo.png', type: 'image/png', base64: RED_PNG.toString('base64') },
      ]);
      const row = page.locator('.tree-row[data-path="img/logo.png"][data-binary="true"]');
      await row.waitFor({ timeout: 15_000 });
      // Others see it live, marked binary.
      await waitFor(() => other.tree().some((f) => f.path === 'img/logo.png' && f.kind === 'binary'), 10_000, 'live');

      // The preview loads the image from the project.
      const width = await waitFor(
        async () => {
          const w = await preview.locator('#dropped').evaluate((img: HTMLImageElement) => img.naturalWidth);
          return w > 0 ? w : null;
        },
        15_000,
        'image in the preview',
      );
      expect(width).toBe(4);
      // On the preview's own origin, project code reads the file's bytes by its path too.
      const seen = await preview.locator('body').evaluate(async () => {
        const response = await fetch('/img/logo.png');
        return { origin: location.origin, bytes: [...new Uint8Array(await response.arrayBuffer())] };
      });
      expect(seen.origin).not.toBe(new URL(web.server.url).origin);
      expect(Buffer.from(seen.bytes).equals(RED_PNG)).toBe(true);

      // Opened, it shows as an image, not as text.
      await row.click();
      const image = page.locator('.binary-view img.binary-image');
      await image.waitFor();
      await waitFor(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth === 4), 10_000, 'image view');
      expect(await page.locator('.binary-view .binary-meta').textContent()).toContain('image/png');
      await page.screenshot({ path: artifactPath('binary-file.png') });

      const stored = await rest.readBinaryFile(shardId, 'img/logo.png');
      expect(Buffer.from(stored.bytes).equals(RED_PNG)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('edits dependencies in the panel: package.json changes for everyone at once', async () => {
    const shardId = await createShard(web.server.url, 'vanilla', 'Dependencies');
    const other = await (await connectClient(web.server.url)).join(shardId);
    const theirs = await other.openFile('package.json');
    const token = await tokenFor({ sub: 'deps', name: 'Deps', shards: { [shardId]: 'write' } });
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content').first().waitFor({ timeout: 20_000 });
      await page.locator('.panel-tab[data-panel="dependencies"]').click();
      const panel = page.locator('.dependencies');
      await panel.getByLabel('Package name').fill('canvas-confetti');
      await panel.getByLabel('Version or range').fill('1.9.3');
      await panel.getByRole('button', { name: 'Add' }).click();
      await panel.locator('[data-group="dependencies"] .dependency-row[data-dependency="canvas-confetti"]').waitFor();
      await waitFor(
        () => JSON.parse(theirs.toString()).dependencies?.['canvas-confetti'] === '1.9.3',
        10_000,
        'package.json changed for the other collaborator',
      );

      // A version edited in the panel, and a dev dependency.
      const version = panel.getByLabel('Version of canvas-confetti');
      await version.fill('1.9.4');
      await version.press('Enter');
      await waitFor(() => JSON.parse(theirs.toString()).dependencies?.['canvas-confetti'] === '1.9.4', 10_000, 'edit');
      await panel.getByLabel('Package name').fill('vitest');
      await panel.getByLabel('Version or range').fill('4.1.0');
      await panel.getByRole('checkbox').check();
      await panel.getByRole('button', { name: 'Add' }).click();
      await panel.locator('[data-group="devDependencies"] .dependency-row[data-dependency="vitest"]').waitFor();

      // Someone else's edit to package.json shows in the panel.
      other.setDependency({ name: 'nanoid', version: '5.0.9' }).catch(() => undefined);
      await panel.locator('.dependency-row[data-dependency="nanoid"]').waitFor({ timeout: 10_000 });

      await panel.getByRole('button', { name: 'Remove canvas-confetti' }).click();
      await waitFor(() => !theirs.toString().includes('canvas-confetti'), 10_000, 'removed');
      await page.screenshot({ path: artifactPath('dependencies-panel.png') });
      const pkg = JSON.parse(theirs.toString()) as { dependencies: object; devDependencies: object };
      expect(pkg.dependencies).toEqual({ nanoid: '5.0.9' });
      expect(pkg.devDependencies).toMatchObject({ vitest: '4.1.0' });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('creates a project from a zip uploaded on the home page', async () => {
    const shardId = await createShard(web.server.url, 'static', 'Start here');
    const token = await adminToken();
    const zip = zipSync({
      'site/index.html': new TextEncoder().encode('<h1>Imported</h1><img src="logo.png">'),
      'site/logo.png': new Uint8Array(RED_PNG),
    });
    const { context, page, errors } = await newUserPage(web.browser);
    try {
      await page.goto(editorUrl(web.server.url, shardId, token));
      await page.locator('.cm-content').first().waitFor({ timeout: 20_000 });
      await page.locator('.brand').click();
      await page.locator('.template-card').first().waitFor({ timeout: 20_000 });
      await page
        .getByLabel('Upload a project (.zip)')
        .setInputFiles({ name: 'site.zip', mimeType: 'application/zip', buffer: Buffer.from(zip) });
      await page.waitForURL(/\/s\/[0-9a-f-]{36}/, { timeout: 20_000 });
      await page.locator('.tree-row[data-path="logo.png"][data-binary="true"]').waitFor({ timeout: 20_000 });
      await page
        .frameLocator('iframe.preview-frame')
        .locator('h1', { hasText: 'Imported' })
        .waitFor({ timeout: 20_000 });

      // A refused archive says why, and stays on the home page.
      await page.locator('.brand').click();
      await page.locator('.template-card').first().waitFor({ timeout: 20_000 });
      await page.getByLabel('Upload a project (.zip)').setInputFiles({
        name: 'evil.zip',
        mimeType: 'application/zip',
        buffer: Buffer.from(zipSync({ '../evil.js': new TextEncoder().encode('x') })),
      });
      await page.locator('.toast', { hasText: 'points outside the project' }).waitFor({ timeout: 10_000 });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
