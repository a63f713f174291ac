import type { IngestBatch } from './batch-job';

/** The store cannot be reached (or stopped answering): worth waiting out, unlike a write it refused. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

/** The port the worker writes batches through. */
export abstract class EventStore {
  /**
   * Writes batches' events and their receipts (table `batches`) in one statement, so a batch is never stored without
   * its receipt nor the other way round, and the batches of a call commit together or not at all. Events and receipts
   * already stored are skipped: a redelivered job or a client's retried batch is harmless. The batches have distinct
   * batch_ids. Resolves to the number of new event rows of each batch, in order; rejects with StoreUnavailable when
   * the store cannot be reached, and with the store's own error when it refused the write (of any of the batches).
   */
  abstract insertBatches(batches: readonly IngestBatch[]): Promise<number[]>;

  /**
   * What a log line may say about a write the store refused, without the values it refused (which can quote player
   * payloads); undefined when the error says nothing the store recognises.
   */
  abstract describeFailure(error: unknown): string | undefined;
}

/** The writer's connection to the store, as the worker waits on it. */
export abstract class StoreConnection {
  /** Resolves once the store is connected and migrated; a writer keeps trying in the background until then. */
  abstract whenReady(): Promise<void>;
}
