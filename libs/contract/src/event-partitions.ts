import type { EventStorageConfig } from '#platform';

/** What one maintenance of the events' partitions did. */
export interface PartitionMaintenanceResult {
  /** Another process held the maintenance lock: this one did nothing. */
  skipped: boolean;
  /** Partitions created (ahead of time, or for events that had landed in the default partition). */
  created: string[];
  /** Rows moved out of the default partition into a partition created for them. */
  moved: number;
  /** Partitions dropped whole because all their range is older than the retention. */
  dropped: string[];
  /** Rows of the default partition deleted because they are older than the retention. */
  expired: number;
}

/**
 * The port the worker maintains the partitions of the events through: creates the partitions ahead of time, moves
 * what landed in the default partition into partitions of its own, and drops partitions older than the retention.
 * Safe to run from many workers at once: one does the work, the others are skipped.
 */
export abstract class EventPartitions {
  abstract maintain(policy: EventStorageConfig, now?: Date): Promise<PartitionMaintenanceResult>;
}
