import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ShardId } from '@tandem/protocol';
import { useTandem } from '../support/harness.js';
import { adminToken, createShard, TEST_JWT_SECRET, tokenFor } from '../support/test-app.js';
import {
  CONTROL_PATH,
  FUZZ_ENV,
  claimsArb,
  fuzzRuns,
  signArb,
  tamperArb,
  tamperToken,
  type ClaimsCase,
  type SignCase,
} from './arbitraries.js';
import {
  checkAckShape,
  checkAfterRun,
  checkRestAnswer,
  closeAgent,
  connectSocket,
  emitOutcome,
  encodeFilePath,
  rawRequest,
  readControl,
  runProperty,
} from './fuzz-support.js';

const RUNS = fuzzRuns(500);
/** AUTH_MAX_TOKEN_BYTES (the default). */
const MAX_TOKEN_BYTES = 8192;

/** What the server must answer: `ok`, or the error code (401/403 ones). */
type Expected = { read: string; write: string; handshake: string };

/** Builds the claims with absolute times and signs them as `sign` says (by hand, so nothing checks them first). */
function sign(claims: ClaimsCase, how: SignCase, nowSec: number): { token: string; payload: Record<string, unknown> } {
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) {
    payload[k] =
      typeof v === 'object' && v !== null && 'relative' in v ? nowSec + (v as { relative: number }).relative : v;
  }
  const alg = {
    hs256: 'HS256',
    'hs256-wrong-secret': 'HS256',
    hs512: 'HS512',
    hs384: 'HS384',
    none: 'none',
    'none-upper': 'NONE',
  }[how];
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg as 'HS256'];
  const secret = how === 'hs256-wrong-secret' ? 'not-the-test-secret-not-the-test-secret-0123' : TEST_JWT_SECRET;
  const signature = hash === undefined ? '' : createHmac(hash, secret).update(input).digest('base64url');
  return { token: `${input}.${signature}`, payload };
}

/** The model: what a token with these (signed) claims may do on `shardId`. Independent of the server's code. */
function expected(payload: Record<string, unknown>, how: SignCase, shardId: string, nowSec: number): Expected {
  const refuse = (code: string): Expected => ({ read: code, write: code, handshake: code });
  if (how !== 'hs256') return refuse('UNAUTHENTICATED');
  const { iat, nbf, exp, sub, name, role, shards, create } = payload;
  // jose's order: iat type, nbf type and time, exp type and time.
  if (iat !== undefined && typeof iat !== 'number') return refuse('UNAUTHENTICATED');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSec)) return refuse('UNAUTHENTICATED');
  if (exp !== undefined && typeof exp !== 'number') return refuse('UNAUTHENTICATED');
  if (typeof exp === 'number' && exp <= nowSec) return refuse('TOKEN_EXPIRED');
  // zod's record drops a `__proto__` key whatever its value (JSON.parse makes it an own key), so a
  // bad grant under that key is ignored rather than refused: it grants nothing either way.
  const grantEntries =
    typeof shards === 'object' && shards !== null ? Object.entries(shards).filter(([k]) => k !== '__proto__') : [];
  const isRecordOfGrants =
    typeof shards === 'object' &&
    shards !== null &&
    !Array.isArray(shards) &&
    grantEntries.every(([, g]) => g === 'read' || g === 'write');
  const valid =
    typeof sub === 'string' &&
    sub.length >= 1 &&
    sub.length <= 200 &&
    (name === undefined || (typeof name === 'string' && name.length <= 200)) &&
    (role === undefined || role === 'admin' || role === 'user') &&
    (shards === undefined || isRecordOfGrants) &&
    (create === undefined || typeof create === 'boolean');
  if (!valid) return refuse('UNAUTHENTICATED');
  // A `share:` sub without a recorded link claim is an unrevocable link from before links were recorded.
  if (typeof sub === 'string' && sub.startsWith('share:')) return refuse('UNAUTHENTICATED');
  const grants = new Map(grantEntries as Array<[string, string]>);
  const access = role === 'admin' ? 'write' : (grants.get(shardId) ?? grants.get('*') ?? 'none');
  return {
    read: access === 'none' ? 'FORBIDDEN' : 'ok',
    write: access === 'none' ? 'FORBIDDEN' : access === 'read' ? 'READ_ONLY' : 'ok',
    handshake: 'ok',
  };
}

describe('fuzz: tokens', () => {
  const t = useTandem({ env: { ...FUZZ_ENV, SHARE_LINK_MAX_PER_SHARD: '100000' } });
  let shardId: ShardId;
  let otherShardId: ShardId;
  let controlBefore: Buffer;
  let other = '';
  let cases = 0;
  let handshakes = 0;
  let accepted = 0;

  beforeAll(async () => {
    shardId = await createShard(t.url());
    otherShardId = await createShard(t.url());
    other = await adminToken();
    const put = await rawRequest(t.url(), {
      method: 'PUT',
      path: `/shards/${shardId}/files/${encodeFilePath(CONTROL_PATH)}`,
      headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'control — nobody writes this ✓\nline 2\n' }),
    });
    expect(put.status).toBe(201);
    controlBefore = await readControl(t.url(), shardId);
  });

  afterAll(() => {
    closeAgent();
    console.log(`[fuzz] tokens: ${cases} cases (${handshakes} socket handshakes, ${accepted} tokens accepted)`);
  });

  async function restOutcome(method: string, path: string, token: string, body?: string): Promise<string> {
    const res = await rawRequest(t.url(), {
      method,
      path,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const code = checkRestAnswer(res, method);
    return code ?? 'ok';
  }

  it('never grants more than the signed claims, and refuses tampered tokens with 401', async () => {
    await runProperty(
      'tokens',
      fc.asyncProperty(
        claimsArb({ shardId, otherShardId }),
        signArb,
        tamperArb,
        fc.nat({ max: 9 }),
        async (claims, how, tamper, dice) => {
          cases++;
          const nowSec = Math.floor(Date.now() / 1000);
          const { token: original, payload } = sign(claims, how, nowSec);
          const model = expected(payload, how, shardId, nowSec);
          const token = tamperToken(original, tamper, other);
          // A tampered token is refused (401) or, when the change decodes to the same bytes, acts as the original.
          const allowed = (want: string) => (token === original ? [want] : [want, 'UNAUTHENTICATED', 'TOKEN_EXPIRED']);
          if (token === '') return; // no bearer token at all: covered by the authorization matrix
          const read = await restOutcome('GET', `/shards/${shardId}`, token);
          if (!allowed(model.read).includes(read))
            throw new Error(`GET shard: ${read}, expected ${model.read} (token ${token})`);
          if (read === 'ok') accepted++;
          // A write check without an effect: a share with a too-short ttl fails validation after the access check.
          const write = await restOutcome(
            'POST',
            `/shards/${shardId}/tokens`,
            token,
            JSON.stringify({ access: 'read', ttlSeconds: 1 }),
          );
          const writeAs = write === 'VALIDATION_FAILED' ? 'ok' : write;
          if (!allowed(model.write).includes(writeAs))
            throw new Error(`POST tokens: ${write}, expected ${model.write} (token ${token})`);
          if (dice === 0) {
            handshakes++;
            const socket = await connectSocket(t.url(), token).catch(
              (e: Error & { data?: { code?: string } }) => e.data?.code ?? `no code: ${e.message}`,
            );
            if (typeof socket === 'string') {
              if (!allowed(model.handshake).includes(socket))
                throw new Error(`handshake: ${socket}, expected ${model.handshake}`);
              return;
            }
            try {
              if (!allowed(model.handshake).includes('ok'))
                throw new Error(`handshake accepted, expected ${model.handshake}`);
              const outcome = await emitOutcome(socket, 'shard:join', { shardId });
              if (outcome.kind !== 'ack') throw new Error(`join: ${outcome.kind}`);
              const ack = checkAckShape(outcome.ack);
              const got = ack.ok ? 'ok' : ack.error.code;
              if (!allowed(model.read).includes(got)) throw new Error(`join: ${got}, expected ${model.read}`);
            } finally {
              socket.close();
            }
          }
        },
      ),
      RUNS,
    );
    await checkAfterRun(t.url(), shardId, controlBefore);
  });

  it('refuses oversized tokens (PAYLOAD_TOO_LARGE) and link claims the server never recorded, REST and handshake', async () => {
    await runProperty(
      'tokens-size-and-links',
      fc.asyncProperty(
        fc.integer({ min: 0, max: 11_000 }),
        fc.boolean(),
        fc.uuid({ version: 4 }),
        fc.nat({ max: 4 }),
        async (padding, forgedLink, linkId, dice) => {
          cases++;
          const nowSec = Math.floor(Date.now() / 1000);
          const claims: ClaimsCase = {
            sub: 'padded',
            role: 'admin',
            pad: 'x'.repeat(padding),
            // Validly signed (as by a host sharing the secret), but no link with this id was minted here.
            ...(forgedLink ? { link: { id: linkId, shard: shardId, by: 'someone' } } : {}),
          } as ClaimsCase;
          const { token } = sign(claims, 'hs256', nowSec);
          const want =
            Buffer.byteLength(token) > MAX_TOKEN_BYTES ? 'PAYLOAD_TOO_LARGE' : forgedLink ? 'UNAUTHENTICATED' : 'ok';
          const read = await restOutcome('GET', `/shards/${shardId}`, token);
          if (read !== want) throw new Error(`GET shard with a ${token.length}-byte token: ${read}, expected ${want}`);
          if (dice !== 0) return;
          handshakes++;
          const socket = await connectSocket(t.url(), token).catch(
            (e: Error & { data?: { code?: string } }) => e.data?.code ?? `no code: ${e.message}`,
          );
          const got = typeof socket === 'string' ? socket : 'ok';
          if (typeof socket !== 'string') socket.close();
          if (got !== want) throw new Error(`handshake with a ${token.length}-byte token: ${got}, expected ${want}`);
        },
      ),
      Math.max(20, Math.floor(RUNS / 10)),
    );
  });

  it("bounds every share link by SHARE_LINK_MAX_TTL_SECONDS and by its minter's token", async () => {
    const maxTtl = 7 * 24 * 3600;
    await runProperty(
      'share-link-ttl',
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 60, max: 2 * maxTtl }),
          fc.constantFrom(maxTtl, maxTtl + 1, 1e9, Number.MAX_SAFE_INTEGER, 59, 0, -1, 1.5),
        ),
        fc.integer({ min: 61, max: 2 * maxTtl }),
        fc.boolean(),
        async (ttlSeconds, minterTtl, isAdmin) => {
          cases++;
          const minter = await tokenFor(
            isAdmin ? { sub: 'ttl-admin', role: 'admin' } : { sub: 'ttl-editor', shards: { [shardId]: 'write' } },
            minterTtl,
          );
          const res = await rawRequest(t.url(), {
            method: 'POST',
            path: `/shards/${shardId}/tokens`,
            headers: { authorization: `Bearer ${minter}`, 'content-type': 'application/json' },
            body: JSON.stringify({ access: 'read', ttlSeconds }),
          });
          const code = checkRestAnswer(res, 'POST');
          const valid = Number.isInteger(ttlSeconds) && ttlSeconds >= 60 && ttlSeconds <= maxTtl;
          if (!valid) {
            if (code !== 'VALIDATION_FAILED') throw new Error(`ttlSeconds ${ttlSeconds}: ${code ?? res.status}`);
            return;
          }
          if (res.status !== 201) throw new Error(`ttlSeconds ${ttlSeconds}: ${code ?? res.status}`);
          const minted = JSON.parse(res.body.toString('utf8')) as { token: string };
          const exp = decodeJwt(minted.token).exp ?? Infinity;
          const minterExp = decodeJwt(minter).exp ?? Infinity;
          const nowSec = Date.now() / 1000;
          if (exp > nowSec + ttlSeconds + 2) throw new Error(`link lives past its ttl ${ttlSeconds}: exp ${exp}`);
          if (!isAdmin && exp > minterExp) throw new Error(`link outlives its minter: ${exp} > ${minterExp}`);
        },
      ),
      Math.max(20, Math.floor(RUNS / 10)),
    );
  });
});
