import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from './sqlite-shard-repository.js';

describe('withStatementCache', () => {
  let db: Database.Database | undefined;
  afterEach(() => db?.close());

  function open() {
    const handle = new Database(':memory:');
    db = handle;
    handle.exec('create table t (n integer)');
    handle.prepare('insert into t values (1), (2), (3)').run();
    return withStatementCache({
      close: () => handle.close(),
      prepare: (sql) => {
        const statement = handle.prepare(sql);
        return {
          reader: statement.reader,
          all: (parameters) => statement.all([...parameters]),
          run: (parameters) => statement.run([...parameters]),
          iterate: (parameters) => statement.iterate([...parameters]),
        };
      },
    });
  }

  it('prepares a query text once and reuses its statement', () => {
    const cached = open();
    const first = cached.prepare('select n from t where n > ?');
    expect(first.all([1])).toEqual([{ n: 2 }, { n: 3 }]);
    expect(cached.prepare('select n from t where n > ?')).toBe(first);
    expect(first.all([2])).toEqual([{ n: 3 }]);
  });

  it('does not hand out a statement that is still iterating', () => {
    const cached = open();
    const streaming = cached.prepare('select n from t order by n');
    const rows = streaming.iterate([]);
    expect(rows.next().value).toEqual({ n: 1 });
    const other = cached.prepare('select n from t order by n');
    expect(other).not.toBe(streaming);
    expect(other.all([])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect([...rows]).toEqual([{ n: 2 }, { n: 3 }]);
    // The cached one is free again.
    expect(cached.prepare('select n from t order by n')).toBe(streaming);
  });

  it('keeps at most 256 texts, dropping the least recently used', () => {
    const cached = open();
    const kept = cached.prepare('select 0 as n');
    const oldest = cached.prepare('select 1 as n');
    for (let i = 2; i <= 256; i++) {
      cached.prepare(`select ${i} as n`);
      if (i === 128) expect(cached.prepare('select 0 as n')).toBe(kept);
    }
    // 257 texts: `select 1` was the least recently used.
    expect(cached.prepare('select 0 as n')).toBe(kept);
    expect(cached.prepare('select 1 as n')).not.toBe(oldest);
  });
});
