/** metrics — the Prometheus registry and instruments (prom-client). Imports nothing from the server. */
export { Metrics } from './metrics.js';
