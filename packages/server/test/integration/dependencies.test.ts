import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImportMap, cdnVersionResolver, TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

/** The SDK's dependency methods (what the editor's Dependencies panel calls) against real servers. */
describe('dependencies through the shared package.json', () => {
  const t = useTandem({ instances: 2, database: 'postgres' });

  // A stand-in for the preview's CDN (external HTTP): what `latest` and `^1.9.0` stand for.
  const published: Record<string, string> = {
    'canvas-confetti@latest': '1.9.3',
    'canvas-confetti@^1.9.0': '1.9.3',
    'canvas-confetti@~1.8.0': '1.8.2',
  };
  let cdn: Server;
  let cdnUrl: string;
  beforeAll(async () => {
    cdn = createServer((req, res) => {
      const key = decodeURIComponent(req.url ?? '')
        .replace(/^\//, '')
        .replace(/\/package\.json$/, '');
      const version = published[key];
      if (version === undefined) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version }));
    });
    await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
    cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => cdn.close(resolve));
  });

  it('adds, changes and removes a dependency: collaborators see it at once, the database after the sync', async () => {
    const shardId = await createShard(t.url(0), 'react');
    const panel = await t.session(shardId, 0);
    const other = await t.session(shardId, 1);
    const theirs = await other.openFile('package.json');
    const before = (await panel.dependencies())!;
    expect(before.dependencies['react']).toBeDefined();

    const resolveVersion = cdnVersionResolver(cdnUrl);
    const added = await panel.setDependency({ name: 'canvas-confetti' }, { resolveVersion });
    expect(added.dependencies['canvas-confetti']).toBe('1.9.3');
    await waitFor(
      () => theirs.toString().includes('"canvas-confetti": "1.9.3"'),
      undefined,
      'live on the other instance',
    );
    expect((await other.dependencies())?.dependencies).toEqual(added.dependencies);
    // What the preview builds its import map from now has the new package.
    const map = buildImportMap((await other.dependencies())!.dependencies, { cdnBaseUrl: 'https://esm.sh' });
    expect(Object.keys(map.imports)).toContain('canvas-confetti');

    await panel.setDependency({ name: 'canvas-confetti', version: '~1.8.0' }, { resolveVersion });
    expect((await panel.dependencies())?.dependencies['canvas-confetti']).toBe('1.8.2');
    // Without a resolver the range is written as typed (a preview then asks for an exact version).
    await panel.setDependency({ name: 'canvas-confetti', version: '^1.9.0' });
    await expect(panel.setDependency({ name: 'no-such-package' }, { resolveVersion })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await panel.setDependency({ name: 'vitest', version: '4.1.0', dev: true });
    await panel.removeDependency('react-dom');
    await panel.saved();
    const rest = new TandemRest({ url: t.url(1), token: await adminToken() });
    const { shard } = await rest.getShard(shardId);
    expect(shard.dependencies['canvas-confetti']).toBe('^1.9.0');
    expect(shard.dependencies['react-dom']).toBeUndefined();
    expect(shard.devDependencies['vitest']).toBe('4.1.0');
    const stored = await t.apps[0]!.app.repository.findById(shardId);
    expect(stored?.dependencies['canvas-confetti']).toBe('^1.9.0');
    expect(JSON.parse((await rest.readFile(shardId, 'package.json')).content)).toMatchObject({
      dependencies: { 'canvas-confetti': '^1.9.0' },
      devDependencies: { vitest: '4.1.0' },
    });
  });

  it('creates package.json when the project has none, and refuses bad input without touching the file', async () => {
    const shardId = await createShard(t.url(0), 'static');
    const panel = await t.session(shardId, 0);
    expect(await panel.dependencies()).toBeNull();
    await panel.setDependency({ name: 'nanoid', version: '5.0.9' });
    expect(panel.fileId('package.json')).toBeDefined();
    expect((await panel.dependencies())?.dependencies).toEqual({ nanoid: '5.0.9' });
    const text = (await panel.openFile('package.json')).toString();
    await expect(panel.setDependency({ name: 'Not A Name' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(panel.setDependency({ name: 'ok', version: ' ' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect((await panel.openFile('package.json')).toString()).toBe(text);
  });
});
