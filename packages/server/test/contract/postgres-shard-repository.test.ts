import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@tandem/protocol';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/index.js';
import { createShardRepository, type IShardRepository } from '../../src/persistence/index.js';
import { TEST_POSTGRES_URL } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait-for.js';
import { describeShardRepositoryContract, makeFile, makeShard } from './shard-repository.contract.js';

// Each test file owns its schemas: created here, dropped after, so parallel files never meet.
const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
const schema = `test_shards_${suffix}`;
const urlSchema = `test_shards_url_${suffix}`;
const freshSchema = `test_shards_fresh_${suffix}`;
const upgradeSchema = `test_shards_upgrade_${suffix}`;
const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });

function openRepository(options: { schema?: string; url?: string } = {}): IShardRepository {
  return createShardRepository(
    { kind: 'postgres', url: options.url ?? TEST_POSTGRES_URL, poolSize: 4 },
    options.schema === undefined ? {} : { schema: options.schema },
  );
}

async function tablesIn(name: string): Promise<string[]> {
  const { rows } = await admin.query<{ table_name: string }>(
    'select table_name from information_schema.tables where table_schema = $1 order by table_name',
    [name],
  );
  return rows.map((row) => row.table_name);
}

beforeAll(async () => {
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  await admin.query(`create schema "${urlSchema}"`);
});

afterAll(async () => {
  for (const name of [schema, urlSchema, freshSchema, upgradeSchema])
    await admin.query(`drop schema if exists "${name}" cascade`);
  await admin.end();
});

describeShardRepositoryContract('PostgresShardRepository', () => {
  const repo = openRepository({ schema });
  return Promise.resolve({ repo, cleanup: () => repo.close() });
});

describe('PostgresShardRepository', () => {
  it('creates its tables in the schema option, with PostgreSQL column types', async () => {
    const repo = openRepository({ schema });
    await repo.migrate();
    await repo.close();
    expect(await tablesIn(schema)).toEqual([
      'checkpoint_files',
      'shard_checkpoints',
      'shard_files',
      'shard_ops',
      'shards',
      'tandem_migration',
      'tandem_migration_lock',
    ]);
    const { rows } = await admin.query<{ table_name: string; column_name: string; data_type: string }>(
      `select table_name, column_name, data_type from information_schema.columns
       where table_schema = $1 and column_name in ('last_sync_timestamp', 'version', 'ydoc_state', 'updated_at')
       order by table_name, column_name`,
      [schema],
    );
    expect(rows.map((r) => `${r.table_name}.${r.column_name}: ${r.data_type}`)).toEqual([
      'checkpoint_files.ydoc_state: bytea',
      'shard_checkpoints.version: bigint',
      'shard_files.updated_at: timestamp with time zone',
      'shard_files.version: bigint',
      'shard_files.ydoc_state: bytea',
      'shards.last_sync_timestamp: bigint',
      'shards.updated_at: timestamp with time zone',
    ]);
  });

  it('honours a search_path set in the connection string', async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${urlSchema}`);
    const repo = openRepository({ url: url.toString() });
    try {
      await repo.migrate();
      const shard = makeShard([makeFile('a.ts', 'a')]);
      await repo.save(shard);
      expect(await tablesIn(urlSchema)).toContain('shards');
      const { rows } = await admin.query(`select id from "${urlSchema}".shards where id = $1`, [shard.id]);
      expect(rows).toHaveLength(1);
    } finally {
      await repo.close();
    }
  });

  it('migrates a fresh schema from several pools at once (advisory lock), creating the schema', async () => {
    const repos = Array.from({ length: 4 }, () => openRepository({ schema: freshSchema }));
    try {
      await Promise.all(repos.map((repo) => repo.migrate()));
      const { rows } = await admin.query(`select name from "${freshSchema}".tandem_migration order by name`);
      expect(rows).toEqual([
        { name: '0001_create_shards' },
        { name: '0002_file_kind' },
        { name: '0003_tree_version' },
        { name: '0004_create_checkpoints' },
        { name: '0005_shard_owner' },
        { name: '0006_shard_ops' },
      ]);
      expect(await tablesIn(freshSchema)).toContain('shard_files');
    } finally {
      await Promise.all(repos.map((repo) => repo.close()));
    }
  });

  it('fails the query, not the process, when the connection dies while the query waits', async () => {
    // pg leaves a checked-out connection with no 'error' listener: its loss while a query was in
    // flight (a database restart, a network cut) was an uncaught exception that ended the server.
    const proxy = await TcpProxy.start(Number(new URL(TEST_POSTGRES_URL).port || 5432));
    const url = new URL(TEST_POSTGRES_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const repo = openRepository({ schema, url: url.toString() });
    const locker = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await locker.connect();
    try {
      await repo.migrate();
      const shard = makeShard([makeFile('a.ts', 'a')]);
      await repo.save(shard);
      await locker.query('begin');
      await locker.query(`lock table "${schema}".shards in access exclusive mode`);
      const read = repo.findById(shard.id).then(
        () => 'answered',
        (error: unknown) => error,
      );
      // The read is in flight: its backend waits for the lock.
      await waitFor(async () => {
        const { rows } = await admin.query(
          `select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%"shards"%' and pid <> $1`,
          [(locker as unknown as { processID: number }).processID],
        );
        return rows.length > 0;
      });
      proxy.dropAll();
      expect(await read).toBeInstanceOf(Error);
      await locker.query('rollback');
      expect((await repo.findById(shard.id))?.id).toBe(shard.id);
    } finally {
      await locker.end();
      await repo.close();
      await proxy.close();
    }
  });

  it('rejects a schema name that is not a plain identifier', () => {
    let error: unknown;
    try {
      openRepository({ schema: 'x"; drop table shards; --' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe(ErrorCode.VALIDATION_FAILED);
  });
});

describe('PostgresShardRepository upgrades a database of the previous release', () => {
  it('adds the owner (null for existing shards) and keeps their rows', async () => {
    // The schema and history migration 0001 left behind, written by hand as that release did.
    await admin.query(`create schema "${upgradeSchema}"`);
    await admin.query(`
      set search_path to "${upgradeSchema}";
      create table shards (id text primary key, name text not null, template_id text not null,
        template_revision integer not null, dependencies text not null, dev_dependencies text not null,
        created_at timestamptz not null, updated_at timestamptz not null, last_sync_timestamp bigint default 0 not null);
      create table shard_files (shard_id text not null references shards (id) on delete cascade,
        file_id text not null, path text not null, content text not null, ydoc_state bytea not null,
        version bigint not null, updated_at timestamptz not null,
        constraint shard_files_pkey primary key (shard_id, file_id));
      create table tandem_migration (name varchar(255) not null primary key, timestamp varchar(255) not null);
      create table tandem_migration_lock (id varchar(255) not null primary key, is_locked integer default 0 not null);
      insert into tandem_migration values ('0001_create_shards', '2026-01-01T00:00:00.000Z');
      insert into tandem_migration_lock values ('migration_lock', 0);
      insert into shards values ('3f1c2b4a-0000-4000-8000-000000000002', 'from 0001', 'vanilla', 1, '{}', '{}', now(), now(), 3);
      set search_path to default;
    `);
    const repo = openRepository({ schema: upgradeSchema });
    try {
      await repo.migrate();
      const id = '3f1c2b4a-0000-4000-8000-000000000002' as Parameters<IShardRepository['findMetaById']>[0];
      const meta = await repo.findMetaById(id);
      expect(meta?.ownerId).toBeNull();
      expect(meta?.name).toBe('from 0001');
      expect((await repo.list({ kind: 'all' }, { limit: 10 })).map((s) => s.id)).toEqual([id]);
      const { rows } = await admin.query(`select name from "${upgradeSchema}".tandem_migration order by name`);
      expect(rows).toEqual([
        { name: '0001_create_shards' },
        { name: '0002_file_kind' },
        { name: '0003_tree_version' },
        { name: '0004_create_checkpoints' },
        { name: '0005_shard_owner' },
        { name: '0006_shard_ops' },
      ]);
      // The upgraded shard can have a history, and it goes with the shard.
      await repo.createCheckpoint({ shardId: id, reason: 'created', authors: [] });
      expect((await repo.listCheckpoints(id, { limit: 10 })).map((c) => c.seq)).toEqual([1]);
      expect(await repo.delete(id)).toBe(true);
      const left = await admin.query(`select count(*)::int as n from "${upgradeSchema}".shard_checkpoints`);
      expect(left.rows).toEqual([{ n: 0 }]);
    } finally {
      await repo.close();
    }
  });
});
