import type { IngestBatch } from '#common';

/** The persistence port the worker writes through. */
export abstract class EventStore {
  /**
   * Writes a batch's events and its receipt (table `batches`) in one statement, so a batch is never stored without
   * its receipt nor the other way round. Events and receipts already stored are skipped: a redelivered job or a
   * client's retried batch is harmless. Resolves to the number of new event rows.
   */
  abstract insertBatch(batch: IngestBatch): Promise<number>;
}
