/**
 * errors — AppError, code → HTTP status mapping, toAppError(unknown).
 * Imports only @tandem/protocol; every other server folder may import this one.
 */
export { AppError, toAppError, httpStatusOf, assertNever } from './app-error.js';
