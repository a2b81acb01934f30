import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ShardId } from '@tandem/protocol';
import { useTandem } from '../support/harness.js';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import { CONTROL_PATH, FUZZ_ENV, fuzzRuns, restCaseArb, type RestCase } from './arbitraries.js';
import {
  checkAfterRun,
  checkRestAnswer,
  closeAgent,
  encodeFilePath,
  mentionsControl,
  rawRequest,
  readControl,
  runProperty,
} from './fuzz-support.js';

const RUNS = fuzzRuns(1500);

describe('fuzz: REST requests', () => {
  const t = useTandem({ env: { ...FUZZ_ENV } });
  let shardId: ShardId;
  let otherShardId: ShardId;
  let controlBefore: Buffer;
  const tokens: Record<RestCase['as'], string | undefined> = {
    admin: undefined,
    editor: undefined,
    viewer: undefined,
    none: undefined,
  };
  let cases = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    shardId = await createShard(t.url());
    otherShardId = await createShard(t.url());
    tokens.admin = await adminToken();
    tokens.editor = await tokenFor({ shards: { [shardId]: 'write' } });
    tokens.viewer = await tokenFor({ shards: { [shardId]: 'read' } });
    const put = await rawRequest(t.url(), {
      method: 'PUT',
      path: `/shards/${shardId}/files/${encodeFilePath(CONTROL_PATH)}`,
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'control — nobody writes this ✓\nline 2\n' }),
    });
    expect(put.status).toBe(201);
    controlBefore = await readControl(t.url(), shardId);
  });

  afterAll(() => {
    closeAgent();
    const byStatus = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    console.log(`[fuzz] rest-requests: ${cases} cases (${byStatus})`);
  });

  /** The file-path part of a request target under /shards/<id>/files/, if any. */
  function filePart(path: string): string {
    const m = /^\/shards\/[^/]*\/files\/(.*)$/.exec(path.split('?')[0] ?? '');
    return m?.[1] ?? '';
  }

  it('answers every request with a documented status and error body, and keeps the shard intact', async () => {
    await runProperty(
      'rest-requests',
      fc.asyncProperty(restCaseArb({ shardId, otherShardId }), async (c) => {
        const body = typeof c.body === 'string' ? c.body : undefined;
        fc.pre(!mentionsControl(filePart(c.path)) && !mentionsControl(body === undefined ? undefined : safeJson(body)));
        cases++;
        const headers: Record<string, string> = {};
        const token = tokens[c.as];
        if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
        if (c.contentType !== undefined) headers['content-type'] = c.contentType;
        const res = await rawRequest(t.url(), {
          method: c.method,
          path: c.path,
          headers,
          ...(c.body === undefined ? {} : { body: c.body }),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        checkRestAnswer(res, c.method);
      }),
      RUNS,
    );
    await checkAfterRun(t.url(), shardId, controlBefore);
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // not JSON: checked as a plain string
  }
}
