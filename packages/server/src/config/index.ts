/**
 * config — the environment schema and loadConfig(env) → frozen, grouped Config.
 * The only place that knows environment variable names. Imports only errors and protocol.
 */
export { loadConfig, INSECURE_DEV_SECRET, type Config, type DatabaseConfig, type Role } from './load-config.js';
export { envSchema, type Env } from './schema.js';
