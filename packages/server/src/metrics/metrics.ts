import type { ScanSummary } from './scan-summary.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus instruments (prom-client), one registry per app instance.
 * Gauges that need a look at Redis are filled by collect callbacks the app registers.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly connectedSockets: Gauge;
  readonly openShards: Gauge;
  readonly edits: Counter;
  readonly editStore: Histogram;
  readonly syncJobs: Counter<'status'>;
  readonly syncJobDuration: Histogram;
  readonly syncLagSeconds: Gauge;
  readonly unsyncedFiles: Gauge;
  readonly dirtyShards: Gauge;
  readonly unsyncedUpdates: Gauge;
  readonly unsyncedBytes: Gauge;
  readonly queueDepth: Gauge;
  readonly shardLoads: Counter;
  readonly backlogRefusals: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.connectedSockets = new Gauge({
      name: 'tandem_connected_sockets',
      help: 'Sockets connected to this instance',
      registers,
    });
    this.openShards = new Gauge({
      name: 'tandem_open_shards',
      help: 'Shards cached in Redis (cluster-wide, from the last scheduler scan)',
      registers,
    });
    this.edits = new Counter({
      name: 'tandem_edits_total',
      help: 'Edits (Yjs updates) accepted by this instance',
      registers,
    });
    this.editStore = new Histogram({
      name: 'tandem_edit_store_seconds',
      help: "Time from an edit's arrival to its store in Redis and its broadcast: the checks, the wait for its sender's previous edit, the store",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.syncJobs = new Counter({
      name: 'tandem_sync_jobs_total',
      help: 'Sync jobs finished by this instance, by status (completed, failed, retried)',
      labelNames: ['status'],
      registers,
    });
    this.syncJobDuration = new Histogram({
      name: 'tandem_sync_job_duration_seconds',
      help: 'Duration of sync jobs',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.syncLagSeconds = new Gauge({
      name: 'tandem_sync_lag_seconds',
      help: 'Age of the oldest change not yet in the database',
      registers,
    });
    this.unsyncedFiles = new Gauge({
      name: 'tandem_unsynced_files',
      help: 'Files with changes not yet in the database',
      registers,
    });
    this.unsyncedUpdates = new Gauge({
      name: 'tandem_unsynced_updates',
      help: 'Yjs updates (edits) held in Redis and not yet in the database',
      registers,
    });
    this.unsyncedBytes = new Gauge({
      name: 'tandem_unsynced_bytes',
      help: 'Bytes Redis holds for files with unsynced changes',
      registers,
    });
    this.dirtyShards = new Gauge({
      name: 'tandem_unsynced_shards',
      help: 'Shards with changes not yet in the database',
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'tandem_sync_queue_depth',
      help: 'Sync jobs waiting, delayed or active',
      registers,
    });
    this.backlogRefusals = new Counter({
      name: 'tandem_backlog_refusals_total',
      help: 'Edits and creates this instance refused because their shard held MAX_SHARD_UNSYNCED_BYTES of unsynced changes',
      registers,
    });
    this.shardLoads = new Counter({
      name: 'tandem_shard_loads_total',
      help: 'Shards loaded from the database into Redis by this instance',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'tandem_' });
  }

  /** Sets the cluster-wide gauges from a scheduler scan. */
  setScan(scan: ScanSummary): void {
    this.openShards.set(scan.openShards);
    this.dirtyShards.set(scan.dirtyShards);
    this.unsyncedFiles.set(scan.dirtyFiles);
    this.unsyncedUpdates.set(scan.unsyncedUpdates);
    this.unsyncedBytes.set(scan.unsyncedBytes);
    this.syncLagSeconds.set(scan.oldestDirtyAt === null ? 0 : Math.max(0, Date.now() - scan.oldestDirtyAt) / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
