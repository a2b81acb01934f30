/**
 * metrics — the Prometheus registry and instruments (prom-client), and the shape of a scheduler scan
 * they report. Imports nothing from the server.
 */
export { Metrics } from './metrics.js';
export { ScanSummarySchema, type ScanSummary } from './scan-summary.js';
