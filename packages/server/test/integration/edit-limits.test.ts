import { describe, expect, it } from 'vitest';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, createShard } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';

/**
 * Path 3a of the trust issue: the update limit must never refuse an edit that leaves the file
 * within MAX_FILE_BYTES. With the old default (256 KiB updates, 2 MiB files) a 320 KiB paste was
 * refused with PAYLOAD_TOO_LARGE and lost.
 */
describe('edits that fit a file are accepted whole', () => {
  const t = useTandem({ env: { SYNC_INTERVAL_MS: '200' } });

  it('stores a 320 KiB paste and a paste of a file just under MAX_FILE_BYTES, and saves them', async () => {
    const maxFileBytes = t.apps[0]!.config.limits.maxFileBytes;
    const shardId = await createShard(t.url(), 'static');
    const session = await t.session(shardId);
    const refusals: string[] = [];
    session.on('error', (e) => refusals.push(e.code));

    const paste = await session.openFile('script.js');
    paste.delete(0, paste.length);
    paste.insert(0, `${'// pasted\n'.repeat((320 * 1024) / 10)}`);
    const whole = await session.openFile('style.css');
    whole.delete(0, whole.length);
    whole.insert(0, 'a'.repeat(maxFileBytes - 64));

    await session.saved(60_000);
    expect(refusals).toEqual([]);
    const rest = new TandemRest({ url: t.url(), token: await adminToken() });
    expect((await rest.readFile(shardId, 'script.js')).content).toBe(paste.toString());
    expect((await rest.readFile(shardId, 'style.css')).content).toHaveLength(maxFileBytes - 64);
    const stored = await t.apps[0]!.app.repository.findById(shardId);
    expect(stored?.files.find((f) => f.path === 'script.js')?.content).toBe(paste.toString());
    expect(stored?.files.find((f) => f.path === 'style.css')?.content).toBe(whole.toString());
  });
});
