/**
 * @tandem/protocol — the wire contract between Tandem servers and clients: socket event
 * maps, DTOs, zod schemas, error codes and path rules. Imports nothing from Node, the
 * server or the client SDK, so both sides (and browsers) can use it.
 */
export * from './errors.js';
export * from './ids.js';
export * from './paths.js';
export * from './dto.js';
export * from './schemas.js';
export * from './events.js';
export * from './history.js';
