import type { StoredEvent } from './accepted-event';

/** Queue names and job payloads shared by the producer (gateway) and the processor (worker). */
export const INGEST_QUEUE = 'ingest-events';
export const INGEST_BATCH_JOB = 'batch';

/** Redis key (under the queue prefix) counting events accepted but not yet written. */
export const BUFFERED_EVENTS_KEY = 'buffered-events';

/**
 * A queued batch: the body of the accepted request as it arrived (decompressed), and what the gateway adds. The gateway
 * has validated the body and queues its text untouched; the worker decodes it (decodeBatchJob). Serializing the text
 * costs the gateway a fraction of building and serializing an object per event, and its job is smaller.
 */
export interface IngestBatchJobData {
  /** BATCH_JOB_FORMAT when the job was queued; absent on jobs of format 1 (see decodeBatchJob). */
  format?: number;
  batch_id: string;
  user_id: string;
  /** How many events the body holds. */
  accepted: number;
  received_at: string;
  /** JSON text of a body IngestBatchDto accepted. */
  body: string;
  /** Its events were counted under a reservation (BufferedEvents); false or absent on jobs of earlier versions. */
  reserved?: boolean;
}

/** A batch as it is written: what the batch adds to each of its events' rows, and the events (see EVENT_COLUMNS). */
export interface IngestBatch<Event = StoredEvent> {
  batch_id: string;
  user_id: string;
  game_id: string;
  received_at: string;
  events: Event[];
}

export function bufferedEventsKey(prefix: string): string {
  return `${prefix}:${INGEST_QUEUE}:${BUFFERED_EVENTS_KEY}`;
}

/**
 * How long a failing batch keeps being retried: the sum of BullMQ's exponential backoff delays between its
 * attempts (delay · 2^(n-1) after the n-th failure). See https://docs.bullmq.io/guide/retrying-failing-jobs
 */
export function retryWindowMs(attempts: number, backoffMs: number): number {
  return backoffMs * (2 ** (attempts - 1) - 1);
}
