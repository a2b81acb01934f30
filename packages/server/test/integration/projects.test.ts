import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { TandemRest, type ShardSession, type TandemClient } from '@tandem/client-sdk';
import type { ErrorBody, SearchResult, ShardId, ShardPage } from '@tandem/protocol';
import { adminToken, tokenFor } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';
import { createTestRedis, testRedisKeys } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { syncShard, type SyncShardDeps } from '../../src/sync-jobs/index.js';
import { packageJsonDependencies } from '../../src/templates/index.js';
import type { SyncBatch } from '../../src/persistence/index.js';

/** A promise and the function that resolves it: holds a step of a sync until the test lets it go. */
function gate(): { opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe.each(['postgres', 'sqlite'] as const)('projects you own, fork and search (%s)', (kind) => {
  // Two instances: deletion reaches sockets on both. No periodic sync: edits stay unsynced until a test syncs.
  const t = useTandem({ database: kind, instances: 2, env: { SYNC_INTERVAL_MS: '3600000' } });
  let redis: Redis | Cluster;
  let admin: string;

  beforeAll(async () => {
    redis = createTestRedis();
    admin = await adminToken();
    return () => {
      redis.disconnect();
    };
  });

  const rest = (token: string, i = 0) => new TandemRest({ url: t.url(i), token });

  async function user(sub: string, claims: { create?: boolean; shards?: Record<string, 'read' | 'write'> } = {}) {
    const token = await tokenFor({
      sub,
      create: claims.create ?? true,
      ...(claims.shards ? { shards: claims.shards } : {}),
    });
    return { token, rest: rest(token), sub };
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    return promise.then(
      () => 'resolved',
      (error: unknown) => (error as { code: string }).code,
    );
  }

  async function status(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${t.url()}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Every Redis key of the shard (its own keys, presence owners, share links). */
  function keysOf(shardId: ShardId): Promise<string[]> {
    return testRedisKeys(redis, `${t.prefix}:*{${shardId}}*`);
  }

  async function openSet(shardId: ShardId): Promise<boolean> {
    const open = await redis.zscore(`${t.prefix}:open-shards`, shardId);
    const empty = await redis.zscore(`${t.prefix}:empty-since`, shardId);
    return open !== null || empty !== null;
  }

  async function joined(client: TandemClient, shardId: ShardId): Promise<ShardSession> {
    return client.join(shardId);
  }

  describe('GET /shards, PATCH and the owner', () => {
    it('lists your own shards and the ones your token names, newest first, page by page', async () => {
      const alice = await user(`alice-${kind}-${Date.now()}`);
      const a1 = (await alice.rest.createShard({ templateId: 'vanilla', name: 'first' })).shard;
      const a2 = (await alice.rest.createShard({ templateId: 'vanilla', name: 'second' })).shard;
      const carol = await user(`carol-${kind}-${Date.now()}`);
      const c1 = (await carol.rest.createShard({ templateId: 'vanilla', name: 'carol' })).shard;
      expect(a1.ownerId).toBe(alice.sub);

      const mine = await alice.rest.listShards();
      expect(mine.shards.map((s) => s.id)).toEqual([a2.id, a1.id]);
      expect(mine.shards[0]).toMatchObject({ name: 'second', templateId: 'vanilla', ownerId: alice.sub });
      expect(typeof mine.shards[0]?.updatedAt).toBe('string');
      expect(mine.nextCursor).toBeNull();

      // One page at a time.
      const first = await alice.rest.listShards({ limit: 1 });
      expect(first.shards.map((s) => s.id)).toEqual([a2.id]);
      const second = await alice.rest.listShards({ limit: 1, cursor: first.nextCursor ?? '' });
      expect(second.shards.map((s) => s.id)).toEqual([a1.id]);
      expect(second.nextCursor).toBeNull();

      // A token that names another user's shard sees it too; nothing else of theirs.
      const bob = await user(`bob-${kind}-${Date.now()}`, { shards: { [a1.id]: 'read' } });
      expect((await bob.rest.listShards()).shards.map((s) => s.id)).toEqual([a1.id]);
      // Admins see everything.
      const all: string[] = [];
      let page: ShardPage = await rest(admin).listShards({ limit: 2 });
      for (;;) {
        all.push(...page.shards.map((s) => s.id));
        if (page.nextCursor === null) break;
        page = await rest(admin).listShards({ limit: 2, cursor: page.nextCursor });
      }
      expect(all).toEqual(expect.arrayContaining([a1.id, a2.id, c1.id]));
      expect(new Set(all).size).toBe(all.length);

      const badCursor = await status('GET', '/shards?cursor=bm9wZQ', alice.token);
      expect(badCursor.status).toBe(400);
      expect((badCursor.body as { error: ErrorBody }).error.code).toBe('VALIDATION_FAILED');
      expect((await status('GET', '/shards?limit=0', alice.token)).status).toBe(400);
      expect((await status('GET', '/shards?limit=101', alice.token)).status).toBe(400);
      expect((await status('GET', '/shards?sort=name', alice.token)).status).toBe(400);
    });

    it('lets the owner open, write and rename their shard without any shards claim; others as their token says', async () => {
      const alice = await user(`alice-own-${kind}`);
      const { shard } = await alice.rest.createShard({ templateId: 'vanilla', name: 'mine' });
      const session = await joined(await t.client(1, alice.token), shard.id);
      expect(session.canWrite).toBe(true);
      const text = await session.openFile('index.html');
      text.insert(0, '<!-- owner -->');
      await session.flushed();
      expect((await alice.rest.readFile(shard.id, 'index.html')).content).toContain('<!-- owner -->');

      const reader = await user(`reader-${kind}`, { shards: { [shard.id]: 'read' } });
      const stranger = await user(`stranger-${kind}`);
      expect(await refusal(reader.rest.renameShard(shard.id, 'x'))).toBe('READ_ONLY');
      expect(await refusal(stranger.rest.renameShard(shard.id, 'x'))).toBe('FORBIDDEN');
      expect(await refusal(stranger.rest.getShard(shard.id))).toBe('FORBIDDEN');
      expect((await status('PATCH', `/shards/${shard.id}`, alice.token, { name: '   ' })).status).toBe(400);

      // A collaborator on the other instance hears of the rename.
      const watcher = await joined(await t.client(0), shard.id);
      const renamed = new Promise<string>((resolve) => watcher.on('renamed', resolve));
      const result = await alice.rest.renameShard(shard.id, '  Better name  ');
      expect(result.shard.name).toBe('Better name');
      expect(await renamed).toBe('Better name');
      expect(watcher.shard.name).toBe('Better name');
      // The open shard's cached description and the database agree.
      expect((await alice.rest.getShard(shard.id)).shard.name).toBe('Better name');
      expect((await t.apps[0]!.app.repository.findMetaById(shard.id))?.name).toBe('Better name');
      expect((await alice.rest.listShards()).shards[0]?.name).toBe('Better name');
    });
  });

  describe('the updated time of shards being changed now', () => {
    it('moves with edits and file operations before any sync, on either instance, and sorts the shard first', async () => {
      const alice = await user(`alice-live-${kind}-${Date.now()}`);
      const older = (await alice.rest.createShard({ templateId: 'vanilla', name: 'edited now' })).shard;
      await sleep(5);
      const newer = (await alice.rest.createShard({ templateId: 'vanilla', name: 'left alone' })).shard;
      const listed = async () => (await alice.rest.listShards()).shards;
      expect((await listed()).map((s) => s.id)).toEqual([newer.id, older.id]);

      // An edit on instance 0: listing there reports it at once (no sync runs in this file).
      const session = await joined(await t.client(0, alice.token), older.id);
      const beforeEdit = Date.now();
      (await session.openFile('index.html')).insert(0, '<!-- now -->');
      await session.flushed();
      const afterEdit = await listed();
      expect(afterEdit.map((s) => s.id)).toEqual([older.id, newer.id]);
      const editedAt = Date.parse(afterEdit[0]!.updatedAt);
      expect(editedAt).toBeGreaterThanOrEqual(beforeEdit);
      expect(editedAt).toBeLessThanOrEqual(Date.now());
      // Not synced: the row holds the template's text still.
      const row = await t.apps[0]!.app.repository.findById(older.id);
      expect(row?.files.find((f) => f.path === 'index.html')?.content).not.toContain('<!-- now -->');

      // A file operation on instance 1, listed through instance 0: within instance 1's flush interval.
      const other = await joined(await t.client(1, alice.token), newer.id);
      await other.createFile('notes.md', 'hello');
      const moved = await waitFor(async () => {
        const shards = await listed();
        return shards[0]?.id === newer.id ? shards : undefined;
      });
      expect(Date.parse(moved[0]!.updatedAt)).toBeGreaterThan(editedAt);
    });
  });

  describe('DELETE /shards/:id', () => {
    it('only the owner or an admin may delete', async () => {
      const alice = await user(`alice-del-${kind}`);
      const { shard } = await alice.rest.createShard({ templateId: 'vanilla', name: 'keep me' });
      const writer = await user(`writer-${kind}`, { shards: { [shard.id]: 'write' } });
      const stranger = await user(`stranger-del-${kind}`);
      expect(await refusal(writer.rest.deleteShard(shard.id))).toBe('FORBIDDEN');
      expect(await refusal(stranger.rest.deleteShard(shard.id))).toBe('FORBIDDEN');
      const link = await alice.rest.shareToken(shard.id, 'write');
      expect(await refusal(rest(link.token).deleteShard(shard.id))).toBe('FORBIDDEN');
      expect((await alice.rest.getShard(shard.id)).shard.name).toBe('keep me');

      expect(await alice.rest.deleteShard(shard.id)).toEqual({ deleted: shard.id });
      expect(await refusal(rest(admin).getShard(shard.id))).toBe('SHARD_NOT_FOUND');
      expect(await refusal(rest(admin).deleteShard(shard.id))).toBe('SHARD_NOT_FOUND');
      // Its share links went with it.
      expect(await refusal(rest(link.token).getShard(shard.id))).toBe('UNAUTHENTICATED');
      const other = (await rest(admin).createShard({ templateId: 'vanilla', name: 'admin deletes' })).shard;
      expect(await rest(admin).deleteShard(other.id)).toEqual({ deleted: other.id });
    });

    it('while people edit on two instances: they are told, taken out, and nothing of the shard remains', async () => {
      const alice = await user(`alice-live-${kind}`);
      const { shard } = await alice.rest.createShard({ templateId: 'vanilla', name: 'busy' });
      const clients = [await t.client(0, alice.token), await t.client(1)];
      const sessions = await Promise.all(clients.map((c) => joined(c, shard.id)));
      const texts = await Promise.all(sessions.map((s) => s.openFile('index.html')));
      const told = sessions.map((s) => new Promise<void>((resolve) => s.on('deleted', resolve)));
      // Both keep typing while the shard is deleted.
      let typing = true;
      const typists = texts.map(async (text, i) => {
        for (let n = 0; typing && n < 300; n++) {
          text.insert(0, i === 0 ? 'a' : 'b');
          await sleep(15);
        }
      });
      await waitFor(async () => /a.*b|b.*a/s.test((await alice.rest.readFile(shard.id, 'index.html')).content));

      await alice.rest.deleteShard(shard.id);
      await Promise.all(told);
      typing = false;
      await Promise.all(typists);
      expect(sessions.every((s) => s.deleted)).toBe(true);

      expect(await t.apps[0]!.app.repository.findById(shard.id)).toBeNull();
      await waitFor(
        async () => (await keysOf(shard.id)).length === 0 && !(await openSet(shard.id)),
        undefined,
        'no keys',
      );
      // Membership heartbeats (every 500 ms here) must not bring a key back.
      await sleep(1200);
      expect(await keysOf(shard.id)).toEqual([]);
      // The sockets left the room: an edit sent now is refused as not joined, and joining fails.
      const ack = await new Promise<{ ok: boolean; error?: ErrorBody }>((resolve) =>
        clients[1]!.socket.emit(
          'file:create',
          { shardId: shard.id, path: 'late.txt' },
          resolve as (ack: unknown) => void,
        ),
      );
      expect(ack.error?.code).toBe('NOT_JOINED');
      expect(await refusal(clients[0]!.join(shard.id))).toBe('SHARD_NOT_FOUND');
      expect(await refusal(alice.rest.writeFile(shard.id, 'index.html', 'x'))).toBe('FORBIDDEN');
      expect(await refusal(rest(admin).writeFile(shard.id, 'index.html', 'x'))).toBe('SHARD_NOT_FOUND');
      expect(await keysOf(shard.id)).toEqual([]);
    });

    it('leaves no binary file, kinds hash or dirty-shards mark behind', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'with a picture' });
      const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]);
      await rest(admin).uploadFile(shard.id, 'public/logo.png', png, 'image/png');
      await rest(admin).writeFile(shard.id, 'index.html', '<p>unsynced</p>');
      expect(await redis.hlen(`${t.prefix}:shard:{${shard.id}}:kinds`)).toBe(1);
      await waitFor(async () => (await redis.zscore(`${t.prefix}:dirty-shards`, shard.id)) !== null);

      await rest(admin).deleteShard(shard.id);

      expect(await keysOf(shard.id)).toEqual([]);
      expect(await redis.zscore(`${t.prefix}:dirty-shards`, shard.id)).toBeNull();
      expect(await openSet(shard.id)).toBe(false);
      expect(await t.apps[0]!.app.repository.findById(shard.id)).toBeNull();
    });

    it('a file operation racing the deletion fails with SHARD_NOT_FOUND and brings nothing back', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'racing' });
      await rest(admin).writeFile(shard.id, 'warm.txt', 'loaded');
      // File operations (each written through to the database before its answer) on both instances while it goes.
      const outcomes = Array.from({ length: 24 }, (_, i) =>
        refusal(rest(admin, i % 2).writeFile(shard.id, `race/${i}.txt`, `file ${i}`)),
      );
      await sleep(5);
      await rest(admin).deleteShard(shard.id);
      const codes = await Promise.all(outcomes);
      for (const code of codes) expect(['resolved', 'SHARD_NOT_FOUND']).toContain(code);
      // A write-through of the deleted shard is refused by the database too.
      await expect(
        t.apps[0]!.app.repository.writeTree({ shardId: shard.id, version: 1_000_000, files: [] }),
      ).rejects.toMatchObject({ code: 'SHARD_NOT_FOUND' });
      await sleep(300);
      expect(await t.apps[0]!.app.repository.findById(shard.id)).toBeNull();
      expect(await keysOf(shard.id)).toEqual([]);
      expect(await refusal(rest(admin).writeFile(shard.id, 'after.txt', 'x'))).toBe('SHARD_NOT_FOUND');
      expect(await keysOf(shard.id)).toEqual([]);
    });

    it('a client that was offline when the shard was deleted learns it from its rejoin', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'deleted while away' });
      const client = await t.client(1);
      const session = await joined(client, shard.id);
      const told = new Promise<void>((resolve) => session.on('deleted', resolve));
      client.socket.disconnect();
      await waitFor(() => session.status === 'offline', undefined, 'offline');
      // The server has seen the leave (the shard is marked empty) before the deletion.
      await waitFor(async () => (await redis.zscore(`${t.prefix}:empty-since`, shard.id)) !== null, undefined, 'left');
      await rest(admin).deleteShard(shard.id);
      client.socket.connect();
      await told;
      expect(session.deleted).toBe(true);
      // The client forgot the session: joining again asks the server, which has no such shard.
      expect(await refusal(client.join(shard.id))).toBe('SHARD_NOT_FOUND');
      await waitFor(
        async () => (await keysOf(shard.id)).length === 0 && !(await openSet(shard.id)),
        undefined,
        'no keys',
      );
    });

    /** A sync of `shardId` run with the app's real store and repository, held at one step until `hold` opens. */
    function heldSync(shardId: ShardId, at: 'applySync' | 'compact', hold: Promise<void>, reached: () => void) {
      const app = t.apps[0]!.app;
      const repository = app.repository;
      const store = app.cache.sync;
      const deps: SyncShardDeps = {
        store: new Proxy(store, {
          get(target, prop, receiver) {
            if (prop === 'compact' && at === 'compact') {
              return async (...args: Parameters<typeof store.compact>) => {
                reached();
                await hold;
                return target.compact(...args);
              };
            }
            const value: unknown = Reflect.get(target, prop, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
        repository: new Proxy(repository, {
          get(target, prop, receiver) {
            if (prop === 'applySync' && at === 'applySync') {
              return async (batch: SyncBatch) => {
                reached();
                await hold;
                return target.applySync(batch);
              };
            }
            const value: unknown = Reflect.get(target, prop, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
        logger: pino({ level: 'silent' }),
        publishSaved: async () => undefined,
        publishCheckpoint: async () => undefined,
        dependenciesOf: packageJsonDependencies,
        authors: app.cache.authors,
        historyIntervalMs: app.config.history.intervalMs,
      };
      return syncShard(deps, shardId, { evict: false });
    }

    it.each(['applySync', 'compact'] as const)(
      'while a sync is in flight (held before %s), the sync does not bring the shard back',
      async (at) => {
        const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: `sync race ${at}` });
        const session = await joined(await t.client(0), shard.id);
        const text = await session.openFile('index.html');
        text.insert(0, 'unsynced edit ');
        await session.flushed();

        const held = gate();
        const reached = gate();
        const sync = heldSync(shard.id, at, held.opened, reached.open);
        await reached.opened;
        const told = new Promise<void>((resolve) => session.on('deleted', resolve));
        await rest(admin).deleteShard(shard.id);
        await told;
        held.open();
        const outcome = await sync.then(
          (result) => ({ ok: true as const, stale: result.stale }),
          (error: unknown) => ({ ok: false as const, code: (error as { code?: string }).code }),
        );
        if (at === 'applySync') expect(outcome).toEqual({ ok: false, code: 'SHARD_NOT_FOUND' });
        else expect(outcome).toEqual({ ok: true, stale: true });

        expect(await t.apps[0]!.app.repository.findById(shard.id)).toBeNull();
        expect(await t.apps[0]!.app.repository.list({ kind: 'all' }, { limit: 100 })).not.toContainEqual(
          expect.objectContaining({ id: shard.id }),
        );
        await waitFor(async () => (await keysOf(shard.id)).length === 0, undefined, 'no keys');
        expect(await openSet(shard.id)).toBe(false);
        // A scheduled sync and eviction afterwards find nothing either.
        await t.apps[0]!.app.flush(shard.id, { evict: true });
        expect(await keysOf(shard.id)).toEqual([]);
        expect(await t.apps[0]!.app.repository.findById(shard.id)).toBeNull();
      },
    );
  });

  describe('POST /shards/:id/fork', () => {
    it('copies the live state, unsynced edits included, into a shard the forker owns; read access suffices', async () => {
      const alice = await user(`alice-fork-${kind}`);
      const { shard } = await alice.rest.createShard({ templateId: 'vanilla', name: 'original' });
      const session = await joined(await t.client(0, alice.token), shard.id);
      const text = await session.openFile('index.html');
      text.insert(0, '<!-- not yet in the database -->\n');
      await session.createFile('src/extra.js', 'export const extra = 1;\n');
      const pkg = await session.openFile('package.json');
      const json = JSON.parse(pkg.toString()) as { dependencies?: Record<string, string> };
      pkg.delete(0, pkg.length);
      pkg.insert(0, JSON.stringify({ ...json, dependencies: { ...json.dependencies, 'left-pad': '1.3.0' } }, null, 2));
      await session.flushed();
      // Really unsynced: the database still has the template's text.
      const before = await t.apps[0]!.app.repository.findById(shard.id);
      expect(before?.files.find((f) => f.path === 'index.html')?.content).not.toContain('not yet in the database');

      const bob = await user(`bob-fork-${kind}`, { shards: { [shard.id]: 'read' } });
      const { shard: fork } = await bob.rest.forkShard(shard.id);
      expect(fork.id).not.toBe(shard.id);
      expect(fork.name).toBe('original (fork)');
      expect(fork.ownerId).toBe(bob.sub);
      expect(fork.templateId).toBe('vanilla');
      expect(fork.dependencies['left-pad']).toBe('1.3.0');
      expect(fork.files.map((f) => f.path)).toEqual(session.tree().map((f) => f.path));
      expect((await bob.rest.readFile(fork.id, 'index.html')).content).toBe(text.toString());
      expect((await bob.rest.readFile(fork.id, 'src/extra.js')).content).toBe('export const extra = 1;\n');

      // Bob owns the fork: he writes to it without any claim naming it, and it is in his list.
      const forkSession = await joined(await t.client(1, bob.token), fork.id);
      expect(forkSession.canWrite).toBe(true);
      (await forkSession.openFile('index.html')).insert(0, 'bob was here ');
      await forkSession.flushed();
      expect((await bob.rest.listShards()).shards.map((s) => s.id)).toEqual([fork.id, shard.id]);
      // The source is untouched by the fork's edits.
      expect(text.toString()).not.toContain('bob was here');
      expect((await bob.rest.forkShard(shard.id, { name: 'named fork' })).shard.name).toBe('named fork');
    });

    it('copies binary files with their bytes and the live tree (a rename not yet synced)', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'pictures' });
      const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 255, 7]);
      await rest(admin).uploadFile(shard.id, 'img/logo.png', png, 'image/png');
      const session = await joined(await t.client(0), shard.id);
      await session.rename('img/logo.png', 'assets/logo.png');
      await session.flushed();

      const { shard: fork } = await rest(admin).forkShard(shard.id);
      const logo = fork.files.find((f) => f.path === 'assets/logo.png');
      expect(logo?.kind).toBe('binary');
      expect(fork.files.some((f) => f.path.startsWith('img/'))).toBe(false);
      const read = await rest(admin).readBinaryFile(fork.id, 'assets/logo.png');
      expect(Array.from(read.bytes)).toEqual(Array.from(png));
      expect(read.contentType).toBe('image/png');
      const stored = await t.apps[0]!.app.repository.findById(fork.id);
      const row = stored?.files.find((f) => f.path === 'assets/logo.png');
      expect(row?.kind).toBe('binary');
      expect(Array.from(row?.ydocState ?? [])).toEqual(Array.from(png));
    });

    it('refuses without read access, without the right to create, and for unknown shards', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'source' });
      const stranger = await user(`stranger-fork-${kind}`);
      expect(await refusal(stranger.rest.forkShard(shard.id))).toBe('FORBIDDEN');
      const noCreate = await user(`nocreate-${kind}`, { create: false, shards: { [shard.id]: 'write' } });
      expect(await refusal(noCreate.rest.forkShard(shard.id))).toBe('FORBIDDEN');
      const link = await rest(admin).shareToken(shard.id, 'read');
      expect(await refusal(rest(link.token).forkShard(shard.id))).toBe('FORBIDDEN');
      expect(await refusal(rest(admin).forkShard('00000000-0000-4000-8000-000000000000'))).toBe('SHARD_NOT_FOUND');
      expect((await status('POST', `/shards/${shard.id}/fork`, admin, { name: '' })).status).toBe(400);
      expect((await status('POST', `/shards/${shard.id}/fork`, admin, { name: 'x', extra: 1 })).status).toBe(400);
    });
  });

  describe('version history of owned, forked and deleted shards', () => {
    it('the owner names and restores versions without a shards claim; a fork starts its own history; a deletion takes the history with it', async () => {
      const alice = await user(`alice-history-${kind}`);
      const { shard } = await alice.rest.createShard({ templateId: 'vanilla', name: 'with history' });
      const original = (await alice.rest.readFile(shard.id, 'index.html')).content;
      await alice.rest.writeFile(shard.id, 'index.html', '<p>changed</p>\n');
      const named = await alice.rest.nameVersion(shard.id, 'changed');
      expect(named.checkpoint.label).toBe('changed');
      const { checkpoints } = await alice.rest.listCheckpoints(shard.id);
      expect(checkpoints.map((c) => c.reason)).toEqual(['named', 'created']);

      // Others as their token says: a reader browses but may not restore, a stranger sees nothing.
      const reader = await user(`reader-history-${kind}`, { shards: { [shard.id]: 'read' } });
      const stranger = await user(`stranger-history-${kind}`);
      expect((await reader.rest.listCheckpoints(shard.id)).checkpoints).toHaveLength(2);
      expect(await refusal(reader.rest.restoreCheckpoint(shard.id, 1))).toBe('READ_ONLY');
      expect(await refusal(stranger.rest.listCheckpoints(shard.id))).toBe('FORBIDDEN');
      expect(await refusal(stranger.rest.nameVersion(shard.id, 'x'))).toBe('FORBIDDEN');

      const restored = await alice.rest.restoreCheckpoint(shard.id, 1);
      expect(restored.checkpoint).toBe(1);
      expect((await alice.rest.readFile(shard.id, 'index.html')).content).toBe(original);

      // The fork holds the restored state and one checkpoint of its own.
      const bob = await user(`bob-history-${kind}`, { shards: { [shard.id]: 'read' } });
      const { shard: fork } = await bob.rest.forkShard(shard.id);
      const forkHistory = await bob.rest.listCheckpoints(fork.id);
      expect(forkHistory.checkpoints.map((c) => c.reason)).toEqual(['created']);
      expect(forkHistory.checkpoints[0]?.authors).toEqual([{ userId: bob.sub, name: bob.sub }]);
      expect((await bob.rest.readCheckpointFile(fork.id, 1, 'index.html')).content).toBe(original);

      await alice.rest.deleteShard(shard.id);
      const repository = t.apps[0]!.app.repository;
      expect(await repository.listCheckpoints(shard.id as ShardId, { limit: 10 })).toEqual([]);
      expect(await keysOf(shard.id as ShardId)).toEqual([]);
      // The fork's history is its own.
      expect((await bob.rest.listCheckpoints(fork.id)).checkpoints).toHaveLength(1);
    });
  });

  describe('GET /shards/:id/search', () => {
    it('finds text in every file, unopened and unsynced alike, by file and line, within the limit', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'searchable' });
      const session = await joined(await t.client(0), shard.id);
      await session.createFile('src/a.js', 'const needle = 1;\n// NEEDLE again\n');
      await session.createFile('src/b.js', 'no match here\nneedle needle\n');
      await session.flushed();

      const reader = await user(`reader-search-${kind}`, { shards: { [shard.id]: 'read' } });
      const found: SearchResult = await reader.rest.searchShard(shard.id, 'needle');
      expect(found.truncated).toBe(false);
      expect(found.matches.map((m) => [m.path, m.line, m.column])).toEqual([
        ['src/a.js', 1, 7],
        ['src/a.js', 2, 4],
        ['src/b.js', 2, 1],
        ['src/b.js', 2, 8],
      ]);
      expect(found.matches[0]).toMatchObject({ preview: 'const needle = 1;', length: 6, previewColumn: 7 });
      expect(found.matches[0]?.fileId).toBe(session.fileId('src/a.js'));
      expect((await reader.rest.searchShard(shard.id, 'NEEDLE', { caseSensitive: true })).matches).toHaveLength(1);

      const cut = await reader.rest.searchShard(shard.id, 'needle', { limit: 2 });
      expect(cut.matches).toHaveLength(2);
      expect(cut.truncated).toBe(true);

      // From the database once the shard is closed.
      await session.leave();
      expect((await t.apps[0]!.app.flush(shard.id, { evict: true })).evicted).toBe('EVICTED');
      expect(await t.apps[0]!.app.cache.loader.isLoaded(shard.id)).toBe(false);
      expect((await reader.rest.searchShard(shard.id, 'needle')).matches).toHaveLength(4);
    });

    it('skips binary files, whose bytes are not text', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'search bytes' });
      await rest(admin).uploadFile(
        shard.id,
        'data/needle.bin',
        new TextEncoder().encode('needle in the bytes\n'),
        'application/octet-stream',
      );
      await rest(admin).writeFile(shard.id, 'src/a.js', 'const needle = 1;\n');
      const found = await rest(admin).searchShard(shard.id, 'needle');
      expect(found.matches.map((m) => m.path)).toEqual(['src/a.js']);
    });

    it('refuses bad queries and callers without read access', async () => {
      const { shard } = await rest(admin).createShard({ templateId: 'vanilla', name: 'private' });
      const stranger = await user(`stranger-search-${kind}`);
      expect(await refusal(stranger.rest.searchShard(shard.id, 'x'))).toBe('FORBIDDEN');
      expect((await status('GET', `/shards/${shard.id}/search`, admin)).status).toBe(400);
      expect((await status('GET', `/shards/${shard.id}/search?q=`, admin)).status).toBe(400);
      expect((await status('GET', `/shards/${shard.id}/search?q=x&limit=1001`, admin)).status).toBe(400);
      expect((await status('GET', `/shards/${shard.id}/search?q=${'x'.repeat(201)}`, admin)).status).toBe(400);
      expect((await status('GET', `/shards/${shard.id}/search?q=x&limit=1000`, admin)).status).toBe(200);
    });
  });
});
