import { afterEach, describe, expect, it } from 'vitest';
import type { FileId } from '@tandem/protocol';
import { TandemClient } from './tandem-client.js';
import type { Refusal, SessionStatus, ShardSession, TreeOpFailure } from './shard-session.js';
import { FakeServer, FakeSocket, SHARD_ID } from './fake-socket.test-support.js';

const GAP_MS = 30;
const ACK_MS = 60;
const clients: TandemClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connect(
  server: FakeServer,
): Promise<{ socket: FakeSocket; client: TandemClient; session: ShardSession }> {
  const socket = new FakeSocket(server);
  const client = new TandemClient({
    url: 'fake',
    token: 't',
    socket: socket.typed,
    gapWaitMs: GAP_MS,
    ackTimeoutMs: ACK_MS,
  });
  clients.push(client);
  const session = await client.join(SHARD_ID);
  return { socket, client, session };
}

async function until(predicate: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const joins = (server: FakeServer) => server.log.filter((e) => e.event === 'shard:join').length;
const syncs = (server: FakeServer) => server.log.filter((e) => e.event === 'file:sync').length;

/** The statuses the session goes through from now on. */
function statusLog(session: ShardSession): SessionStatus[] {
  const seen: SessionStatus[] = [];
  session.on('status', (s) => seen.push(s));
  return seen;
}

describe('missed notices (gaps)', () => {
  it('rejoins and converges when a version never arrives', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    server.hidden.add(server.clock + 1);
    server.editAsOther('a.js', (t) => t.insert(0, 'lost '));
    server.editAsOther('a.js', (t) => t.insert(t.length, ' seen'));
    await until(() => text.toString() === server.text('a.js'), 'the lost edit to arrive');
    expect(text.toString()).toBe('lost hello seen');
    expect(joins(server)).toBe(2);
  });

  it('rejoins when presence:requested names a version it has not seen', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { socket, session } = await connect(server);
    const text = await session.openFile('a.js');
    server.hidden.add(server.clock + 1);
    server.editAsOther('a.js', (t) => t.insert(0, 'lost '));
    socket.deliver('presence:requested', { shardId: SHARD_ID, version: server.clock });
    await until(() => text.toString() === 'lost hello', 'the lost edit to arrive');
    expect(joins(server)).toBe(2);
  });

  it('does not rejoin for versions that arrive out of order within the wait', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { socket, session } = await connect(server);
    await session.openFile('a.js');
    const v = server.clock;
    server.hidden.add(v + 1).add(v + 2);
    server.editAsOther('a.js', (t) => t.insert(0, '1'));
    server.editAsOther('a.js', (t) => t.insert(0, '2'));
    // Delivered in reverse order, a few ms apart.
    socket.deliver('tree:changed', { shardId: SHARD_ID, change: { kind: 'deleted', files: [] }, version: v + 2 });
    await sleep(GAP_MS / 3);
    socket.deliver('tree:changed', { shardId: SHARD_ID, change: { kind: 'deleted', files: [] }, version: v + 1 });
    await sleep(GAP_MS * 3);
    expect(joins(server)).toBe(1);
  });

  it('counts notices that overtake the join ack as seen (no rejoin for them)', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    server.ackDelayMs.set('shard:join', 30);
    const socket = new FakeSocket(server);
    const client = new TandemClient({ url: 'fake', token: 't', socket: socket.typed, gapWaitMs: GAP_MS });
    clients.push(client);
    const joining = client.join(SHARD_ID);
    await until(() => server.room.has(socket), 'the join to reach the server');
    server.editAsOther('a.js', (t) => t.insert(0, 'early '));
    const session = await joining;
    server.ackDelayMs.clear();
    server.editAsOther('a.js', (t) => t.insert(0, 'later '));
    await sleep(GAP_MS * 4);
    expect(joins(server)).toBe(1);
    expect(await session.openFile('a.js').then((t) => t.toString())).toBe('later early hello');
  });

  it('resyncs a file whose remote update stays pending (a dependency is missing)', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { socket, session } = await connect(server);
    const text = await session.openFile('a.js');
    const v = server.clock;
    server.hidden.add(v + 1).add(v + 2);
    const updates: Uint8Array[] = [];
    const fileId = session.fileId('a.js')!;
    const doc = server.docs.get(fileId)!;
    const capture = (u: Uint8Array) => updates.push(u);
    doc.on('update', capture);
    server.editAsOther('a.js', (t) => t.insert(0, 'A'));
    server.editAsOther('a.js', (t) => t.insert(1, 'B'));
    doc.off('update', capture);
    // Both versions arrive, but the first carries the second's update: B waits for A.
    socket.deliver('file:edited', { shardId: SHARD_ID, fileId, update: updates[1]!, version: v + 1 });
    socket.deliver('file:edited', { shardId: SHARD_ID, fileId, update: updates[1]!, version: v + 2 });
    const before = syncs(server);
    await until(() => text.toString() === 'ABhello', 'the pending update to resolve');
    expect(syncs(server)).toBe(before + 1);
    expect(joins(server)).toBe(1);
  });
});

describe('lost acks', () => {
  it('never says saved for an edit whose ack was lost, and resyncs it', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    server.save();
    await until(() => session.status === 'saved', 'saved');
    const statuses = statusLog(session);
    let lost = true;
    server.hook = (event) => (event === 'file:edit' && lost ? ((lost = false), 'lose') : 'default');
    text.insert(5, ' world');
    await until(() => server.text('a.js') === 'hello world', 'the handshake to send the edit');
    await sleep(GAP_MS * 2);
    expect(statuses).not.toContain('saved');
    server.save();
    await session.saved(1000);
    expect(server.log.filter((e) => e.event === 'file:sync').length).toBeGreaterThanOrEqual(2);
  });

  it('a dropped ack of an edit the server stored: saved only once the database passed the version the handshake read', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    server.save();
    const statuses = statusLog(session);
    let dropped = false;
    server.hook = (event) => (event === 'file:edit' && !dropped ? ((dropped = true), 'drop') : 'default');
    text.insert(0, '!');
    await until(() => server.log.filter((e) => e.event === 'file:sync').length >= 2, 'the resync');
    await sleep(GAP_MS * 3);
    expect(statuses).not.toContain('saved');
    server.save();
    await session.saved(1000);
    expect(server.text('a.js')).toBe('!hello');
  });

  it('an edit cut by a disconnect is sent by the handshake after the reconnect', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    const { socket, session } = await connect(server);
    const text = await session.openFile('a.js');
    server.ackDelayMs.set('file:edit', 1000);
    server.hook = (event) => (event === 'file:edit' ? 'lose' : 'default');
    text.insert(0, 'cut ');
    socket.disconnect();
    expect(session.status).toBe('offline');
    text.insert(text.length, ' offline');
    server.hook = () => 'default';
    server.ackDelayMs.clear();
    socket.reconnect();
    await until(() => server.text('a.js') === 'cut hello offline', 'both edits on the server');
    server.save();
    await session.saved(1000);
  });
});

describe('refused edits', () => {
  it('reports the text, returns the file to the server state, and accepts later edits', async () => {
    const server = new FakeServer({ 'a.js': 'hello' });
    server.maxUpdateBytes = 200;
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    const refusals: Refusal[] = [];
    const resets: Array<{ fileId: FileId }> = [];
    session.on('refused', (r) => refusals.push(r));
    session.on('reset', (r) => resets.push(r));
    const paste = 'x'.repeat(500);
    text.insert(5, paste);
    await until(() => resets.length === 1, 'the reset');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ path: 'a.js', error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(refusals[0]!.localText).toBe(`hello${paste}`);
    const fresh = await session.openFile('a.js');
    expect(fresh).not.toBe(text);
    expect(fresh.toString()).toBe('hello');
    fresh.insert(5, '!');
    await until(() => server.text('a.js') === 'hello!', 'the later edit');
    server.save();
    await sleep(GAP_MS * 2);
    expect(session.status).toBe('live');
    expect(session.refused()).toHaveLength(1);
    session.dismissRefusal(refusals[0]!.fileId);
    await session.saved(1000);
  });
});

describe('files deleted by someone else', () => {
  it('gives back edits made offline to a file deleted meanwhile, and does not stay syncing', async () => {
    const server = new FakeServer({ 'a.js': 'hello', 'b.js': 'b' });
    const { socket, session } = await connect(server);
    const text = await session.openFile('a.js');
    const refusals: Refusal[] = [];
    session.on('refused', (r) => refusals.push(r));
    socket.disconnect();
    text.insert(5, ' offline');
    const [id] = [...server.tree].find(([, p]) => p === 'a.js')!;
    server.tree.delete(id);
    server.docs.delete(id);
    socket.reconnect();
    await until(() => refusals.length === 1, 'the refusal');
    expect(refusals[0]).toMatchObject({ path: 'a.js', error: { code: 'FILE_NOT_FOUND' }, localText: 'hello offline' });
    expect(session.doc(id)).toBeUndefined();
    await until(() => session.status === 'live', 'live (the refusal stands)');
    session.dismissRefusal(id);
    server.save();
    await session.saved(1000);
  });

  it('gives back an edit on its way when someone deletes the file before it arrives', async () => {
    const server = new FakeServer({ 'a.js': 'hello', 'b.js': 'b' });
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    const refusals: Refusal[] = [];
    session.on('refused', (r) => refusals.push(r));
    const id = session.fileId('a.js')!;
    // Someone deletes the file just before our edit reaches the server; the notice overtakes the ack.
    server.ackDelayMs.set('file:edit', 20);
    server.hook = (event) => {
      if (event !== 'file:edit' || !server.tree.has(id)) return 'default';
      server.tree.delete(id);
      server.docs.delete(id);
      server.broadcast(null, 'tree:changed', {
        shardId: SHARD_ID,
        change: { kind: 'deleted', files: [{ id, path: 'a.js' }] },
        version: ++server.clock,
      });
      return 'default';
    };
    text.insert(5, ' typed');
    await until(() => session.doc(id) === undefined, 'the file closed');
    await session.flushed(1000);
    expect(refusals).toMatchObject([{ path: 'a.js', error: { code: 'FILE_NOT_FOUND' }, localText: 'hello typed' }]);
  });
});

describe('file operations', () => {
  it('queues create, rename and delete while offline and replays them in order after the reconnect', async () => {
    const server = new FakeServer({ 'a.js': 'a', 'x.js': 'x' });
    const { socket, session } = await connect(server);
    socket.disconnect();
    const created = session.createFile('src/b.js', 'hi');
    const renamed = session.rename('a.js', 'c.js');
    const deleted = session.delete('x.js');
    const id = session.fileId('src/b.js');
    expect(id).toBeDefined();
    expect(session.tree().map((f) => f.path)).toEqual(['c.js', 'src/b.js']);
    expect(session.queuedOps()).toHaveLength(3);
    const typed = await session.openFile(id!);
    typed.insert(2, ' there');
    expect(session.status).toBe('offline');
    socket.reconnect();
    const [file] = await Promise.all([created, renamed, deleted]);
    expect(file.id).toBe(id);
    await until(() => server.text('src/b.js') === 'hi there', 'the created file text');
    expect([...server.tree.values()].sort()).toEqual(['c.js', 'src/b.js']);
    // Created empty, its text sent as an edit: nothing was inserted twice.
    expect(server.log.find((e) => e.event === 'file:create')!.payload['content']).toBe('');
    server.save();
    await session.saved(1000);
  });

  it('reports an operation that no longer applies in plain words and shows the server tree', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    const { socket, session } = await connect(server);
    socket.disconnect();
    const failures: TreeOpFailure[] = [];
    session.on('op-failed', (f) => failures.push(f));
    const renamed = session.rename('a.js', 'b.js');
    expect(session.tree().map((f) => f.path)).toEqual(['b.js']);
    // Meanwhile someone else moved it.
    const [id] = [...server.tree.keys()];
    server.tree.set(id!, 'moved.js');
    socket.reconnect();
    await expect(renamed).rejects.toThrow(
      'Could not rename a.js to b.js: a.js no longer exists — someone renamed or deleted it while you were offline',
    );
    expect(failures).toHaveLength(1);
    expect(session.tree().map((f) => f.path)).toEqual(['moved.js']);
    expect(session.queuedOps()).toHaveLength(0);
  });

  it('sends an operation whose ack was lost again with the same opId; the server applies it once', async () => {
    const server = new FakeServer({});
    const { session } = await connect(server);
    let dropped = false;
    server.hook = (event) => (event === 'file:create' && !dropped ? ((dropped = true), 'drop') : 'default');
    const file = await session.createFile('one.js');
    const creates = server.log.filter((e) => e.event === 'file:create');
    expect(creates.length).toBe(2);
    expect(creates[0]!.payload['opId']).toBe(creates[1]!.payload['opId']);
    expect([...server.tree.keys()]).toEqual([file.id]);
  });

  it('is not saved while operations are queued', async () => {
    const server = new FakeServer({});
    const { session } = await connect(server);
    const statuses = statusLog(session);
    server.ackDelayMs.set('file:create', 40);
    const created = session.createFile('one.js');
    await sleep(10);
    expect(session.status).toBe('syncing');
    await created;
    expect(statuses[0]).toBe('syncing');
  });

  it('after Redis lost the shard, is not saved while its text is back only through someone else', async () => {
    const server = new FakeServer({ 'a.js': 'hello', 'b.js': '' });
    const a = await connect(server);
    const b = await connect(server);
    const textA = await a.session.openFile('a.js');
    const textB = await b.session.openFile('a.js');
    server.save();
    textA.insert(0, 'A');
    await until(() => textB.toString() === 'Ahello' && a.session.status === 'live', 'the edit reached B');
    a.socket.disconnect();
    b.socket.disconnect();
    // Redis loses the shard; others' edits and a sync move the database past A's old version...
    server.loseToSaved();
    server.editAsOther('b.js', (t) => t.insert(0, 'x'));
    server.editAsOther('b.js', (t) => t.insert(0, 'y'));
    server.save();
    // ...then B comes back and its handshake sends A's edit again, with a version A never sees.
    b.socket.reconnect();
    await until(() => server.text('a.js') === 'Ahello', 'B restored the text');
    a.socket.reconnect();
    await until(() => a.session.status !== 'offline' && a.session.status !== 'connecting', 'A rejoined');
    await sleep(GAP_MS * 3);
    expect(a.session.status).not.toBe('saved');
    server.save();
    await a.session.saved(1000);
  });

  it("replays an operation on another client's file again once that client re-created it", async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    server.save();
    const creator = await connect(server);
    const renamer = await connect(server);
    const created = await creator.session.createFile('new.js', '');
    await until(() => renamer.session.fileId('new.js') !== undefined, 'the renamer sees the file');
    await renamer.session.rename('new.js', 'moved.js');
    creator.socket.disconnect();
    renamer.socket.disconnect();
    server.loseToSaved();
    // The renamer comes back first: its rename finds no new.js until the creator replays the create.
    renamer.socket.reconnect();
    await until(() => server.log.some((e) => e.event === 'file:rename' && e !== server.log[0]), 'the rename replayed');
    await sleep(50);
    creator.socket.reconnect();
    await until(() => server.tree.get(created.id) === 'moved.js', 'the rename applied after the create');
    await until(() => renamer.session.tree().some((f) => f.path === 'moved.js'), 'the renamer shows it');
  });

  it('restores acknowledged operations after Redis lost the shard (replayed with the same ids)', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    const { session } = await connect(server);
    const aId = session.fileId('a.js')!;
    const created = await session.createFile('new.js', 'fresh text');
    await until(() => server.text('new.js') === 'fresh text', 'the text');
    await session.rename('a.js', 'renamed.js');
    await session.flushed(1000);
    // Redis loses everything since the last save: the shard reloads as the database had it.
    server.lose({ 'a.js': { id: aId, text: 'a' } });
    await until(
      () => server.text('new.js') === 'fresh text' && server.text('renamed.js') === 'a',
      'operations and text restored',
    );
    expect(server.tree.get(created.id)).toBe('new.js');
    expect(session.tree().map((f) => f.path)).toEqual(['new.js', 'renamed.js']);
    server.save();
    await session.saved(1000);
  });

  it('keeps acknowledged operations a shard:saved of the reloaded shard arrives for before they are replayed', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    server.save();
    const { session } = await connect(server);
    const id = session.fileId('a.js')!;
    await session.rename('a.js', 'renamed.js');
    await session.flushed(1000);
    // Redis loses the shard; our join is slow, and meanwhile the reloaded shard's clock passes
    // the version our rename had in the lost one and a sync announces it.
    server.ackDelayMs.set('shard:join', 40);
    server.loseToSaved();
    server.editAsOther('a.js', (t) => t.insert(1, 'b'));
    server.editAsOther('a.js', (t) => t.insert(2, 'c'));
    server.save();
    await until(() => server.tree.get(id) === 'renamed.js', 'the rename replayed');
    server.save();
    await session.saved(1000);
  });

  it('replays acknowledged operations after Redis lost the shard while it was offline and the new clock passed them', async () => {
    const server = new FakeServer({ 'a.js': 'a', 'b.js': 'b' });
    server.save();
    const { socket, session } = await connect(server);
    const id = session.fileId('a.js')!;
    await session.rename('a.js', 'renamed.js');
    await session.flushed(1000);
    socket.disconnect();
    // Redis loses the shard while we are offline (no resync reaches us); the reloaded clock
    // moves past our rename's version and the database catches up with it.
    server.loseToSaved();
    for (let i = 0; i < 3; i++) server.editAsOther('b.js', (t) => t.insert(0, 'x'));
    server.save();
    socket.reconnect();
    await until(() => server.tree.get(id) === 'renamed.js', 'the rename replayed');
    server.save();
    await session.saved(1000);
  });

  it('is not saved between the answer to its rejoin and the handshakes after Redis lost the shard', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    server.save();
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    text.insert(1, ' typed');
    await session.flushed(1000);
    // Saved while the server lacked the text: what the status said against what the server had.
    const claims: string[] = [];
    session.on('status', (status) => {
      if (status === 'saved') claims.push(server.text('a.js') ?? '');
    });
    server.ackDelayMs.set('file:sync', 30);
    server.loseToSaved();
    await until(() => server.text('a.js') === 'a typed', 'the handshake to restore the text');
    server.save();
    await session.saved(1000);
    expect(
      claims.every((t) => t === 'a typed'),
      claims.join(' | '),
    ).toBe(true);
  });

  it('after Redis lost the shard, counts an edit stored after its rejoin was read and acknowledged before it', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    const { session } = await connect(server);
    const text = await session.openFile('a.js');
    server.save();
    await session.saved(1000);
    const claims: string[] = [];
    session.on('status', (status) => {
      if (status === 'saved') claims.push(server.savedText('a.js') ?? '');
    });
    // The user types and closes the file (so no handshake after the rejoin reads it again). The
    // edit waits at the server (for the reload, say) while Redis loses the shard; the rejoin that
    // follows is read before the edit is stored, and answered after the edit's ack.
    server.handleDelayMs.set('file:edit', 20);
    server.ackDelayMs.set('shard:join', 45);
    text.insert(1, 'X');
    session.closeFile('a.js');
    server.loseToSaved();
    await until(() => server.text('a.js') === 'aX', 'the edit stored in the reloaded shard');
    await until(() => session.status !== 'connecting' && session.status !== 'syncing', 'the rejoin');
    await sleep(GAP_MS * 3);
    expect(claims, 'saved before the database had the edit').toEqual([]);
    server.save();
    await session.saved(1000);
    expect(claims.every((t) => t === 'aX')).toBe(true);
  });

  it('never sends again a create whose file someone deleted since (after Redis lost the shard it would come back)', async () => {
    const server = new FakeServer({ 'a.js': 'a' });
    server.save();
    const creator = await connect(server);
    const deleter = await connect(server);
    // The create is applied, but its acks are lost; later its resends do not get through for a while.
    let createAcks: 'lost' | 'blocked' | 'through' = 'lost';
    server.hook = (event) =>
      event !== 'file:create'
        ? 'default'
        : createAcks === 'lost'
          ? 'drop'
          : createAcks === 'blocked'
            ? 'lose'
            : 'default';
    const created = creator.session.createFile('new.js');
    created.catch(() => undefined);
    let deletionSeen = false;
    creator.session.on('tree', (_tree, change) => {
      if (change?.kind === 'deleted') deletionSeen = true;
    });
    await until(() => deleter.session.fileId('new.js') !== undefined, 'the deleter sees the file');
    const id = deleter.session.fileId('new.js')!;
    server.save(); // the database has the file
    await deleter.session.delete('new.js');
    await until(() => deletionSeen, 'the creator hears of the deletion');
    // Redis loses the shard: the file is back from the database; the deleter deletes it again.
    createAcks = 'blocked';
    server.loseToSaved();
    await until(() => !server.tree.has(id), 'the deletion replayed');
    await deleter.session.flushed(5000);
    createAcks = 'through';
    expect((await created).id).toBe(id);
    await creator.session.flushed(5000);
    expect(server.tree.has(id)).toBe(false);
  });
});
