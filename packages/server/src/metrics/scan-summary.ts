import { z } from 'zod';

/**
 * What one scheduler scan saw across the cluster. The leading scheduler stores it in Redis (JSON)
 * and every instance's /metrics reads it back, so the schema is also the check on what is read.
 */
export const ScanSummarySchema = z.object({
  openShards: z.number(),
  dirtyShards: z.number(),
  dirtyFiles: z.number(),
  unsyncedUpdates: z.number(),
  unsyncedBytes: z.number(),
  /** ms since the epoch of the oldest unsynced change, or null. */
  oldestDirtyAt: z.number().nullable(),
  evictCandidates: z.number(),
  enqueuedJobs: z.number(),
});

export type ScanSummary = z.infer<typeof ScanSummarySchema>;
