/**
 * Baseline 2: Hocuspocus (@hocuspocus/server), with @hocuspocus/extension-redis when REDIS_URL is
 * set (the way Hocuspocus scales to several instances). With SQLITE_PATH, also its Database
 * extension (@hocuspocus/extension-database) storing each document's state in a SQLite file with
 * Hocuspocus's default debounce (2 s, at most 10 s): the table and queries of
 * @hocuspocus/extension-sqlite, on libsql (which Tandem's SQLite store uses too; SQLite 3.45.1)
 * instead of the sqlite3 package. Without it, it stores nothing. Plain JavaScript run by plain node:
 * Hocuspocus's package.json maps the `source` export condition (which the bench itself runs
 * with) to its TypeScript sources.
 * Env: PORT, REDIS_URL (optional), REDIS_PREFIX, SQLITE_PATH (optional).
 */
import { Server } from '@hocuspocus/server';

const port = Number(process.env.PORT);
const extensions = [];
if (process.env.SQLITE_PATH) {
  const { Database } = await import('@hocuspocus/extension-database');
  const { default: SQLite } = await import('libsql');
  // Wait for another instance's write lock as better-sqlite3 did by default (libsql does not wait).
  const db = new SQLite(process.env.SQLITE_PATH, { timeout: 5000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS "documents" ("name" varchar(255) NOT NULL, "data" blob NOT NULL, UNIQUE(name))');
  const select = db.prepare('SELECT data FROM "documents" WHERE name = ? ORDER BY rowid DESC');
  const upsert = db.prepare(
    'INSERT INTO "documents" ("name", "data") VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data',
  );
  extensions.push(
    new Database({
      // libsql reads a BLOB as an ArrayBuffer; Hocuspocus applies a Uint8Array.
      fetch: async ({ documentName }) => {
        const data = select.get(documentName)?.data;
        return data == null ? null : new Uint8Array(data);
      },
      store: async ({ documentName, state }) => {
        upsert.run(documentName, state);
      },
    }),
  );
}
if (process.env.REDIS_URL) {
  const { Redis } = await import('@hocuspocus/extension-redis');
  const url = new URL(process.env.REDIS_URL);
  extensions.push(
    new Redis({ host: url.hostname, port: Number(url.port || 6379), prefix: process.env.REDIS_PREFIX ?? 'hocuspocus' }),
  );
}
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true, extensions });
await server.listen();
process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
