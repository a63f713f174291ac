import type { IngestBatchJobData } from '#common';

/** The persistence port the worker writes through. */
export abstract class EventStore {
  /** Writes a batch in one statement; events already stored are skipped. Resolves to the number of new rows. */
  abstract insertBatch(batch: IngestBatchJobData): Promise<number>;
}
