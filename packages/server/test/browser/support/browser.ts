import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
