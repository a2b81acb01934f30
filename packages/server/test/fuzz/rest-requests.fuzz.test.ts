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
        // Deleting the fuzzed shard itself (an admin may) would end the run's subject, not test it.
        fc.pre(!(c.method === 'DELETE' && (c.path.split('?')[0] ?? '') === `/shards/${shardId}`));
        // Nor restoring it to a checkpoint from before the control file existed (an admin may: the
        // file goes, as asked), which the after-run check would take for damage.
        fc.pre(
          !(c.method === 'POST' && /^\/shards\/[^/]*\/checkpoints\/[^/]*\/restore$/.test(c.path.split('?')[0] ?? '')),
        );
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

  it('never answers a protected route, however its path is percent-encoded, without a token', async () => {
    // Every protected route of the API, as a concrete path (the auth hook once read the raw URL,
    // so `GET /%74emplates` answered without a token).
    const targets = [
      ['GET', '/templates'],
      ['GET', '/templates/vanilla'],
      ['POST', '/shards'],
      ['GET', `/shards/${shardId}`],
      ['GET', `/shards/${shardId}/zip`],
      ['GET', `/shards/${shardId}/files/index.html`],
      ['PUT', `/shards/${shardId}/files/index.html`],
      ['DELETE', `/shards/${shardId}/files/index.html`],
      ['POST', `/shards/${shardId}/files`],
      ['POST', `/shards/${shardId}/move`],
      ['POST', `/shards/${shardId}/tokens`],
      ['GET', `/shards/${shardId}/tokens`],
      ['DELETE', `/shards/${shardId}/tokens`],
      ['DELETE', `/shards/${shardId}/tokens/00000000-0000-4000-8000-000000000000`],
      ['GET', '/shards'],
      ['PATCH', `/shards/${shardId}`],
      ['DELETE', `/shards/${shardId}`],
      ['POST', `/shards/${shardId}/fork`],
      ['GET', `/shards/${shardId}/search?q=x`],
    ] as const;
    await runProperty(
      'rest-encoded-routes',
      fc.asyncProperty(
        fc.constantFrom(...targets),
        fc.array(fc.boolean(), { minLength: 120, maxLength: 120 }),
        fc.boolean(),
        async ([method, path], escapeAt, upperHex) => {
          cases++;
          // Escape a random subset of the characters (never the slashes, which would change the route).
          const encoded = [...path]
            .map((ch, i) => {
              if (ch === '/' || escapeAt[i] !== true) return ch;
              const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
              return `%${upperHex ? hex.toUpperCase() : hex}`;
            })
            .join('');
          const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
          const res = await rawRequest(t.url(), {
            method,
            path: encoded,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body }),
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const code = checkRestAnswer(res, method);
          if (res.status < 400 || (code !== 'UNAUTHENTICATED' && code !== 'NOT_FOUND' && code !== 'VALIDATION_FAILED'))
            throw new Error(`${method} ${encoded} without a token: ${res.status} ${code ?? ''}`);
        },
      ),
      Math.max(50, Math.floor(RUNS / 5)),
    );
  });
});

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // not JSON: checked as a plain string
  }
}
