/**
 * faults — test-only fault injection: crash right after a store, drop acks. Enabled only by
 * TANDEM_TEST_FAULTS (never in production). Imports errors and protocol only.
 */
export { Faults, type FaultPlan } from './faults.js';
export { registerFaultRoutes } from './fault-routes.js';
