import { describe, expect, it } from 'vitest';
import type { ShardSession } from '@tandem/client-sdk';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { waitFor } from '../support/wait-for.js';

describe('file operations and REST writes reach live collaborators', () => {
  const t = useTandem({ instances: 2, database: 'postgres' });
  const apps = t.apps;
  const session = t.session;

  const paths = (s: ShardSession) => s.tree().map((f) => f.path);

  it('keeps every tree the same through creates, folder moves and deletes on two instances', async () => {
    const shardId = await createShard(apps[0]!.url, 'react');
    const a = await session(shardId, 0);
    const b = await session(shardId, 1);
    await a.createFile('src/components/Button.jsx', 'export const Button = () => null;\n');
    await b.rename('src', 'app');
    await a.delete('app/index.css');
    await waitFor(() => paths(a).join() === paths(b).join() && paths(b).includes('app/components/Button.jsx'), 5000);
    expect(paths(a).some((p) => p.startsWith('src/'))).toBe(false);
    expect(paths(a)).not.toContain('app/index.css');
    const c = await session(shardId, 1);
    expect(paths(c)).toEqual(paths(a));
  });

  it('resolves two people renaming the same file at once to one agreed result', async () => {
    const shardId = await createShard(apps[0]!.url, 'static');
    const a = await session(shardId, 0);
    const b = await session(shardId, 1);
    const results = await Promise.allSettled([a.rename('script.js', 'by-a.js'), b.rename('script.js', 'by-b.js')]);
    const won = results.filter((r) => r.status === 'fulfilled').length;
    expect(won).toBe(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as { code: string }).code).toBe('FILE_NOT_FOUND');
    await waitFor(() => paths(a).join() === paths(b).join(), 5000, 'trees agree');
    expect(paths(a).filter((p) => p === 'by-a.js' || p === 'by-b.js')).toHaveLength(1);
    expect(paths(a)).not.toContain('script.js');
  });

  it('shows a REST write to people editing the file, merged with their own edits', async () => {
    const shardId = await createShard(apps[0]!.url, 'static');
    const live = await session(shardId, 1);
    const text = await live.openFile('style.css');
    text.insert(0, '/* typed live */\n');
    await live.flushed();
    const rest = new TandemRest({ url: apps[0]!.url, token: await adminToken() });
    const current = (await rest.readFile(shardId, 'style.css')).content;
    expect(current.startsWith('/* typed live */')).toBe(true);
    await rest.writeFile(shardId, 'style.css', `${current}\n/* appended over REST */\n`);
    await waitFor(() => text.toString().includes('/* appended over REST */'), 5000, 'REST edit reaches the editor');
    expect(text.toString().startsWith('/* typed live */')).toBe(true);
    await rest.writeFile(shardId, 'notes/todo.md', '# todo\n');
    await waitFor(() => paths(live).includes('notes/todo.md'), 5000, 'REST create reaches the tree');
  });
});
