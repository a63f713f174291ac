import { parseRfc3339 } from '../time/rfc3339';
import { IngestBatch, IngestBatchJobData, IngestEventPayload } from './ingest-queue';

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
 * derived. The gateway validated the body, so a job that does not decode was not made by this version: it fails.
 */
export function decodeBatchJob(job: IngestBatchJobData): IngestBatch {
  // Jobs of the version before this format held the decoded batch itself, and were written as they were, whatever
  // they said: such a job (or one planted in that shape) is refused, and kept as failed for an operator to look at.
  if (typeof (job as Partial<IngestBatchJobData>).body !== 'string') {
    throw new Error(`batch ${job.batch_id}: the job has no body: it was not queued by this version of the gateway`);
  }
  const body = JSON.parse(job.body) as { user_id: string; game_id: string; events: AcceptedEvent[] };
  if (body.user_id !== job.user_id || !Array.isArray(body.events) || body.events.length !== job.accepted) {
    throw new Error(`batch ${job.batch_id}: the job's body does not match its user_id and count`);
  }
  const events = body.events.map((event, index): IngestEventPayload => {
    const occurredAt = parseRfc3339(event.timestamp);
    if (occurredAt === undefined) throw new Error(`batch ${job.batch_id}: event ${index} has no valid timestamp`);
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
