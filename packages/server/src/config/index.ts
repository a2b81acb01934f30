/**
 * config — the environment schema and loadConfig(env) → frozen, grouped Config.
 * The only place that knows environment variable names. Imports only errors and protocol.
 */
export { loadConfig, withDevSecret, type Config, type DatabaseConfig, type Role } from './load-config.js';
export { envSchema, type Env } from './schema.js';
