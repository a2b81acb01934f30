/** logging — the root pino logger factory. Imports nothing from the server. */
export { createLogger, type Logger } from './create-logger.js';
