import { parseRfc3339 } from '../time/rfc3339';
import { IngestBatch, IngestBatchJobData, IngestEventPayload } from './ingest-queue';

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

/** An event of a body the gateway accepted (IngestEventDto's fields). */
interface AcceptedEvent {
  type: string;
  timestamp: string;
  customEventName?: string;
  customdata?: Record<string, unknown>;
  event_id?: string;
}

/**
 * The `event_id` of an event sent without one: its batch's id with the last three hex digits replaced by the event's
 * position. Derived rather than drawn at random, so that a job delivered twice writes the same ids and its second
 * delivery stores nothing. Within a batch the ids differ by position; across batches they keep 110 of the batch id's
 * random bits.
 */
export function derivedEventId(batchId: string, index: number): string {
  return `${batchId.slice(0, 33)}${index.toString(16).padStart(3, '0')}`;
}

/**
 * The batch a job holds, as it is written: timestamps converted to UTC, client event ids in lower case, the others
 * derived. The gateway validated the body, so a job that does not decode was not made by a gateway this worker knows:
 * BatchJobFormatError.
 */
export function decodeBatchJob(job: IngestBatchJobData): IngestBatch {
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
  let body: { user_id: string; game_id: string; events: AcceptedEvent[] };
  try {
    body = JSON.parse(job.body) as typeof body;
  } catch (error) {
    throw new BatchJobFormatError(`batch ${job.batch_id}: the job's body is not JSON`, { cause: error });
  }
  if (body.user_id !== job.user_id || !Array.isArray(body.events) || body.events.length !== job.accepted) {
    throw new BatchJobFormatError(`batch ${job.batch_id}: the job's body does not match its user_id and count`);
  }
  const events = body.events.map((event, index): IngestEventPayload => {
    const occurredAt = parseRfc3339(event.timestamp);
    if (occurredAt === undefined) throw new BatchJobFormatError(`batch ${job.batch_id}: event ${index} has no valid timestamp`);
    return {
      event_id: event.event_id?.toLowerCase() ?? derivedEventId(job.batch_id, index),
      type: event.type,
      custom_event_name: event.customEventName ?? null,
      occurred_at: occurredAt.utcIso,
      customdata: event.customdata ?? null,
    };
  });
  return { batch_id: job.batch_id, user_id: body.user_id, game_id: body.game_id, received_at: job.received_at, events };
}
