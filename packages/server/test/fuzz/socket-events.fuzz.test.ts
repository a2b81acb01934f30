import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import type { FileEntry, ShardId } from '@tandem/protocol';
import { useTandem } from '../support/harness.js';
import { adminToken, createShard, tokenFor } from '../support/test-app.js';
import {
  CONTROL_PATH,
  FUZZ_ENV,
  MAY_CLOSE_SOCKET_BYTES,
  fuzzRuns,
  socketCaseArb,
  type SocketCase,
} from './arbitraries.js';
import {
  checkAckShape,
  checkAfterRun,
  closeAgent,
  connectSocket,
  emitOutcome,
  encodeFilePath,
  mentionsControl,
  payloadBytes,
  rawRequest,
  readControl,
  runProperty,
} from './fuzz-support.js';

const RUNS = fuzzRuns(400);

describe('fuzz: socket events', () => {
  const t = useTandem({ env: { ...FUZZ_ENV } });
  let shardId: ShardId;
  let otherShardId: ShardId;
  let controlId: string;
  let controlBefore: Buffer;
  let fileIds: string[] = [];
  const tokens = { admin: '', viewer: '' };
  const sockets: { admin?: Socket; viewer?: Socket } = {};
  let cases = 0;
  let reconnects = 0;
  const serverErrors: unknown[] = [];

  beforeAll(async () => {
    shardId = await createShard(t.url());
    otherShardId = await createShard(t.url());
    tokens.admin = await adminToken();
    tokens.viewer = await tokenFor({ shards: { [shardId]: 'read' } });
    const put = await rawRequest(t.url(), {
      method: 'PUT',
      path: `/shards/${shardId}/files/${encodeFilePath(CONTROL_PATH)}`,
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'control — nobody writes this ✓\nline 2\n' }),
    });
    expect(put.status).toBe(201);
    controlId = (JSON.parse(put.body.toString('utf8')) as { file: FileEntry }).file.id;
    controlBefore = await readControl(t.url(), shardId);
    const files = await socketFor('admin');
    fileIds = files.map((f) => f.id).filter((id) => id !== controlId);
  });

  afterAll(() => {
    sockets.admin?.close();
    sockets.viewer?.close();
    closeAgent();
    console.log(`[fuzz] socket-events: ${cases} cases (${reconnects} reconnects)`);
  });

  /** The kept-alive socket of a role, (re)connected and joined when needed; returns the joined tree. */
  async function socketFor(role: 'admin' | 'viewer'): Promise<FileEntry[]> {
    let socket = sockets[role];
    if (socket === undefined || !socket.connected) {
      if (socket !== undefined) reconnects++;
      socket = await connectSocket(t.url(), tokens[role]);
      socket.on('shard:error', (e: unknown) => serverErrors.push(e));
      sockets[role] = socket;
    }
    const outcome = await emitOutcome(socket, 'shard:join', { shardId });
    if (outcome.kind !== 'ack') throw new Error(`join: ${outcome.kind}`);
    const ack = checkAckShape(outcome.ack);
    if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
    return (ack.data as { files: FileEntry[] }).files;
  }

  async function runCase(role: 'admin' | 'viewer', c: SocketCase): Promise<void> {
    cases++;
    let socket = sockets[role];
    if (socket === undefined || !socket.connected) {
      await socketFor(role);
      socket = sockets[role];
    }
    if (socket === undefined) throw new Error('no socket');
    const outcome = await emitOutcome(socket, c.event, c.payload);
    switch (outcome.kind) {
      case 'ack':
        checkAckShape(outcome.ack);
        break;
      case 'refused-by-client':
        break;
      case 'closed':
        // Only a message over SOCKET_MAX_MESSAGE_BYTES may close the connection.
        if (payloadBytes(c.payload) < MAY_CLOSE_SOCKET_BYTES)
          throw new Error(`the server closed the socket (${outcome.reason})`);
        await socketFor(role);
        break;
      case 'timeout':
        throw new Error(`no ack for ${c.event} within 10 s`);
    }
    // A leave (or a join of another shard) changes membership: be joined again for the next case.
    if (c.event === 'shard:leave' || !socket.connected) await socketFor(role);
    if (serverErrors.length > 0) throw new Error(`unexpected shard:error: ${JSON.stringify(serverErrors)}`);
  }

  it('answers every event with a well-formed ack and keeps the shard intact', async () => {
    const targets = () => ({ shardId, otherShardId, fileIds });
    await runProperty(
      'socket-events',
      fc.asyncProperty(
        fc.constantFrom<'admin' | 'viewer'>('admin', 'admin', 'admin', 'viewer'),
        socketCaseArb(targets()),
        async (role, c) => {
          // The control file is never named by the generators; this guards against that changing.
          fc.pre(!mentionsControl(c.payload) && !JSON.stringify(c.payload ?? null).includes(controlId));
          await runCase(role, c);
        },
      ),
      RUNS,
    );
    await checkAfterRun(t.url(), shardId, controlBefore);
  });
});
