import { rfc3339EpochMs } from '#platform';
import { AcceptedEvent, EVENT_COLUMNS, EventColumn, EventColumns, StoredEvent } from './accepted-event';

/** The queue the gateway adds a job per accepted batch to, and the worker consumes, and the name of those jobs. */
export const INGEST_QUEUE = 'ingest-events';
export const INGEST_BATCH_JOB = 'batch';

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
  /** JSON text of the request's body, which the gateway validated. */
  body: string;
  /** Its events were counted under a reservation in the buffered-events counter; false or absent on older jobs. */
  reserved?: boolean;
}

/** A batch as it is written: what the batch adds to each of its events' rows, and the events (see EVENT_COLUMNS). */
export interface IngestBatch<Event = StoredEvent> {
  batch_id: string;
  user_id: string;
  game_id: string;
  received_at: string;
  /**
   * The offset of the device's clock from the gateway's, in whole milliseconds: the body's `sent_at` minus
   * `received_at`. null when the body has no `sent_at` (and for every job queued before `sent_at` existed).
   */
  clock_skew_ms: number | null;
  events: Event[];
}

/**
 * The format of the jobs this version queues. Format 1 had no `format` field (its jobs are recognised by their `body`);
 * format 2 is format 1 with the field. A change to the job gets the next number, and the worker keeps decoding the
 * formats a gateway still running the version before may queue.
 */
export const BATCH_JOB_FORMAT = 2;
const DECODED_FORMATS: readonly number[] = [1, 2];

/** A job this worker cannot decode, and never will: failed at once and kept as failed, not retried. */
export class BatchJobFormatError extends Error {
  override readonly name = 'BatchJobFormatError';
}

/** The job queued for a batch the gateway accepted: `body` is the request's body text, which it validated. */
export function encodeBatchJob(batch: Omit<IngestBatchJobData, 'format' | 'reserved'>): IngestBatchJobData {
  return { format: BATCH_JOB_FORMAT, ...batch, reserved: true };
}

/**
 * The batch a job holds, as it is written: timestamps converted to UTC, client event ids in lower case, the others
 * derived. The gateway validated the body, so a job that does not decode was not made by a gateway this worker knows:
 * BatchJobFormatError.
 */
export function decodeBatchJob(job: IngestBatchJobData): IngestBatch;
/** The same with another column table: the test that proves a field added to the event reaches its column. */
export function decodeBatchJob<E>(job: IngestBatchJobData, columns: EventColumns<E>): IngestBatch<Record<string, unknown>>;
export function decodeBatchJob(
  job: IngestBatchJobData,
  columns: Readonly<Record<string, EventColumn<never>>> = EVENT_COLUMNS,
): IngestBatch {
  const format = job.format ?? (typeof (job as Partial<IngestBatchJobData>).body === 'string' ? 1 : undefined);
  // Jobs older than format 1 held the decoded batch itself, and were written as they were, whatever they said: such a
  // job (or one planted in that shape) is refused, like a job of a format newer than this worker.
  if (format === undefined) {
    throw new BatchJobFormatError(
      `batch ${job.batch_id}: the job has no format and no body: it was not queued by a gateway this worker knows`,
    );
  }
  if (!DECODED_FORMATS.includes(format)) {
    throw new BatchJobFormatError(
      `batch ${job.batch_id}: job format ${String(format)} is unknown to this worker (it decodes ${DECODED_FORMATS.join(' and ')}): ` +
        'upgrade the worker, then retry the failed jobs',
    );
  }
  let body: { user_id: string; game_id: string; sent_at?: unknown; events: AcceptedEvent[] };
  try {
    body = JSON.parse(job.body) as typeof body;
  } catch (error) {
    throw new BatchJobFormatError(`batch ${job.batch_id}: the job's body is not JSON`, { cause: error });
  }
  if (body.user_id !== job.user_id || !Array.isArray(body.events) || body.events.length !== job.accepted) {
    throw new BatchJobFormatError(`batch ${job.batch_id}: the job's body does not match its user_id and count`);
  }
  const clockSkewMs = clockSkew(job, body.sent_at);
  const fields = Object.entries(columns);
  const events = body.events.map((event, index) => {
    const row: Record<string, unknown> = {};
    for (const [field, { column, value }] of fields) {
      // The table's events are those of the body: AcceptedEvent, or the extended event of a test's table.
      const stored = value(event as never, { batchId: job.batch_id, index });
      if (stored === undefined) throw new BatchJobFormatError(`batch ${job.batch_id}: event ${index} has no valid ${field}`);
      row[column] = stored;
    }
    return row;
  });
  // A row per event with a value per column of the table: StoredEvent for EVENT_COLUMNS.
  return {
    batch_id: job.batch_id,
    user_id: body.user_id,
    game_id: body.game_id,
    received_at: job.received_at,
    clock_skew_ms: clockSkewMs,
    events: events as StoredEvent[],
  };
}

/**
 * `sent_at` minus `received_at` in milliseconds (both are whole milliseconds: the sub-millisecond digits of `sent_at`
 * are dropped), or null without `sent_at`. Measured as sent, whether or not the gateway applied it to the events'
 * timestamps (it does within a year of its own clock). The job format did not change for it: the body carries
 * `sent_at`, the job `received_at`.
 */
function clockSkew(job: IngestBatchJobData, sentAt: unknown): number | null {
  if (sentAt === undefined) return null;
  const sentAtMs = typeof sentAt === 'string' ? rfc3339EpochMs(sentAt) : undefined;
  const receivedAtMs = Date.parse(job.received_at);
  if (sentAtMs === undefined || Number.isNaN(receivedAtMs)) {
    throw new BatchJobFormatError(`batch ${job.batch_id}: the job has no valid sent_at or received_at`);
  }
  return sentAtMs - receivedAtMs;
}
