import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_HOST_PAGE, startPreviewHost, type PreviewHost } from './preview-host.js';

describe('the preview origin', () => {
  let host: PreviewHost;
  let url: string;

  beforeAll(async () => {
    host = await startPreviewHost({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${host.port}`;
  });

  afterAll(async () => {
    await host?.close();
  });

  it('answers every path with the host page, never cached', async () => {
    for (const path of ['/', '/?tandem-build=3', '/posts/first-steps', '/api/hello']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await response.text()).toBe(PREVIEW_HOST_PAGE);
    }
  });

  it('serves nothing else: other methods are refused, favicon is missing', async () => {
    const post = await fetch(`${url}/api/hello`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${url}/favicon.ico`)).status).toBe(404);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('names PREVIEW_PORT when its port is taken', async () => {
    await expect(startPreviewHost({ host: '127.0.0.1', port: host.port })).rejects.toThrow(
      `the preview origin cannot listen on 127.0.0.1:${host.port} (PREVIEW_PORT)`,
    );
  });
});
