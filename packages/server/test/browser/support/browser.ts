import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import type { ShardId } from '@tandem/protocol';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createWebRoutes, startPreviewHost } from '../../../src/web/index.js';
import {
  createTestDatabase,
  startTestApp,
  uniquePrefix,
  type RunningApp,
  type TestDatabase,
} from '../../support/test-app.js';
import { ensureWebBuild, WEB_DIST } from './web-build.js';
import { startLocalCdn, type LocalCdn } from './local-cdn.js';

/** Debian's Chromium (`.ci/install-browser` installs it); never a downloaded browser build. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
/** Screenshots for people (gitignored). */
export const ARTIFACTS = join(root, 'test-artifacts');

/** Headless Chromium with nothing that reaches beyond the machine. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run .ci/install-browser (apt-get install chromium), or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/**
 * A server serving the built editor (and the API) on 127.0.0.1, with its own database and key
 * prefix, and the preview origin on a second port (`previewUrl`).
 */
export type WebTestServer = RunningApp & { db: TestDatabase; previewUrl: string; close(): Promise<void> };

/** What a describe block of browser tests runs against: see useWebEditor. */
export type WebEditorHarness = { readonly server: WebTestServer; readonly browser: Browser; readonly cdn: LocalCdn };

/**
 * Starts the web server and Chromium before the block's tests (and the local CDN of the preview
 * packages first, with `cdn: true`) and closes them after: browser, server, CDN. Read them inside
 * tests (`web.server.url`, `newUserPage(web.browser)`).
 */
export function useWebEditor(options: { cdn?: boolean; env?: Record<string, string> } = {}): WebEditorHarness {
  const held: { server?: WebTestServer; browser?: Browser; cdn?: LocalCdn } = {};
  beforeAll(async () => {
    if (options.cdn === true) held.cdn = await startLocalCdn();
    [held.server, held.browser] = await Promise.all([
      startWebServer({
        ...(held.cdn === undefined ? {} : { previewCdnUrl: held.cdn.url }),
        ...(options.env === undefined ? {} : { env: options.env }),
      }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await held.browser?.close();
    await held.server?.close();
    await held.cdn?.close();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started: use it inside a test of the describe block`);
    return value;
  };
  return {
    get server() {
      return started(held.server, 'the web server');
    },
    get browser() {
      return started(held.browser, 'the browser');
    },
    get cdn() {
      return started(held.cdn, 'the local CDN (useWebEditor({ cdn: true }))');
    },
  };
}

export async function startWebServer(
  options: { previewCdnUrl?: string; env?: Record<string, string> } = {},
): Promise<WebTestServer> {
  await ensureWebBuild();
  const db = await createTestDatabase('sqlite');
  const previewHost = await startPreviewHost({ host: '127.0.0.1', port: 0 });
  const previewUrl = `http://127.0.0.1:${previewHost.port}`;
  const running = await startTestApp({
    prefix: uniquePrefix(),
    databaseUrl: db.url,
    ...(options.env === undefined ? {} : { env: options.env }),
    extraRoutes: createWebRoutes({
      distDir: WEB_DIST,
      previewCdnUrl: options.previewCdnUrl ?? 'http://127.0.0.1:9',
      preview: { origin: previewUrl },
    }),
  });
  return {
    ...running,
    db,
    previewUrl,
    close: async () => {
      await running.app.close();
      await previewHost.close();
      await db.drop();
    },
  };
}

/** A page of a fresh browser context (its own storage: one user) that fails the test on page errors. */
export async function newUserPage(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 820 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, errors };
}

/** The editor URL of a shard with a token, as a share link carries it. */
export function editorUrl(baseUrl: string, shardId: string, token: string): string {
  return `${baseUrl}/s/${shardId}#token=${encodeURIComponent(token)}`;
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** The text of the editor's document (every rendered line), without remote carets. */
export async function editorText(page: Page): Promise<string> {
  return page.locator('.cm-content .cm-line').evaluateAll((lines) =>
    lines
      .map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        for (const widget of copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer')) widget.remove();
        return copy.textContent ?? '';
      })
      .join('\n'),
  );
}

/** A file's text as the database holds it (undefined when it has no such file). */
export async function fileInDatabase(
  server: WebTestServer,
  shardId: ShardId,
  path: string,
): Promise<string | undefined> {
  const shard = await server.app.repository.findById(shardId);
  return shard?.files.find((f) => f.path === path)?.content;
}
