import { ErrorCode } from '@tandem/protocol';
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AppError } from '../errors/index.js';
import { KyselyShardStore } from './kysely-shard-store.js';
import type { ShardDatabase } from './migrations.js';

/** How long the pool waits for a new connection before the query fails. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A plain, unquoted-safe PostgreSQL identifier. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Options of PostgresShardRepository. */
export type PostgresShardRepositoryOptions = {
  /** Connection string, e.g. `postgres://user:pass@host:5432/db`. */
  url: string;
  /** Most connections the pool opens. */
  poolSize: number;
  /**
   * Schema that holds the tables: every pooled connection runs `SET search_path TO "<schema>"`
   * first. `migrate()` creates the schema if it is missing. Default: the connection's own
   * search_path, which a connection string can also set:
   * `postgres://host/db?options=-c%20search_path%3Dmyschema`.
   * Letters, digits and underscores only.
   */
  schema?: string | undefined;
  /**
   * Called when an idle pooled connection fails (server restart, network cut). pg has then
   * already dropped it from the pool; the next query opens a new one. Default: ignore.
   */
  onIdleConnectionError?: ((error: Error) => void) | undefined;
};

/**
 * IShardRepository on PostgreSQL (production). int8 columns come back as JS numbers (a
 * per-pool type parser: shard clock values stay far below 2^53), bytea as Buffer and
 * timestamptz as Date.
 */
export class PostgresShardRepository extends KyselyShardStore {
  readonly #schema: string | undefined;

  constructor(options: PostgresShardRepositoryOptions) {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `schema "${schema}" is not a plain identifier; use letters, digits and underscores, at most 63`,
      );
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      types: createTypeParsers(),
    });
    // Without a listener, an idle connection's error would be an unhandled 'error' event
    // and end the process; pg has already removed that connection from the pool.
    pool.on('error', options.onIdleConnectionError ?? ignoreIdleConnectionError);
    // The pool's listener is on idle connections only: a checked-out connection that dies (a
    // restart or a network cut while a query runs or a transaction is open) emits 'error' with no
    // listener, an uncaught exception that ended the server. Its queries are already rejected
    // with the error and the pool drops it when it comes back, so the listener has nothing to do.
    pool.on('connect', (client) => client.on('error', ignoreCheckedOutConnectionError));
    super(
      new Kysely<ShardDatabase>({
        dialect: new PostgresDialect({
          pool,
          ...(schema === undefined
            ? {}
            : {
                onCreateConnection: async (connection) => {
                  await connection.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
                },
              }),
        }),
      }),
      'postgres',
    );
    this.#schema = schema;
  }

  protected override async migrationTableSchema(): Promise<string> {
    if (this.#schema !== undefined) return this.#schema;
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(this.db);
    const current = rows[0]?.schema ?? null;
    if (current === null) {
      throw new AppError(
        ErrorCode.INTERNAL,
        'no schema of the connection search_path exists; create it, or pass the schema option so migrate() creates it',
      );
    }
    return current;
  }
}

function ignoreIdleConnectionError(): void {
  // Nothing to do: see the comment where this listener is attached.
}

function ignoreCheckedOutConnectionError(): void {
  // Nothing to do: see the comment where this listener is attached.
}

/** The default parsers, except int8 as a number instead of a string. Per pool, so pg's globals stay untouched. */
function createTypeParsers(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, 'text', (value: string) => Number(value));
  return types;
}
