import { ErrorCode } from '@tandem/protocol';
import type { DatabaseConfig } from '../config/index.js';
import { AppError, assertNever } from '../errors/index.js';
import { PostgresShardRepository } from './postgres-shard-repository.js';
import type { IShardRepository } from './shard-repository.js';
import { SqliteShardRepository } from './sqlite-shard-repository.js';

/** Options of createShardRepository beyond the database config. */
export type CreateShardRepositoryOptions = {
  /**
   * PostgreSQL only: the schema that holds the tables (tests use one per test file).
   * Default: the connection's search_path (`?options=-c%20search_path%3Dname` in the URL
   * works too). Rejected for SQLite, which has no schemas.
   */
  schema?: string | undefined;
};

/**
 * The repository for the configured database. Opens nothing yet: the pool or file handle is
 * created on first use. Call `migrate()` before anything else, and `close()` at shutdown.
 *
 * @example
 * const repo = createShardRepository(config.database);
 * await repo.migrate();
 */
export function createShardRepository(
  config: DatabaseConfig,
  options: CreateShardRepositoryOptions = {},
): IShardRepository {
  switch (config.kind) {
    case 'postgres':
      return new PostgresShardRepository({ url: config.url, poolSize: config.poolSize, schema: options.schema });
    case 'sqlite':
      if (options.schema !== undefined) {
        throw new AppError(
          ErrorCode.VALIDATION_FAILED,
          'the schema option applies to PostgreSQL only; use a separate SQLite file instead',
        );
      }
      return new SqliteShardRepository({ file: config.file });
    default:
      return assertNever(config);
  }
}
