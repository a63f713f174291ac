import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { DURATION_BUCKETS_SECONDS, Metrics, METRICS_PREFIX } from '#platform';

/** Why a `POST /ingest/events` was refused: a fixed set, so that client input cannot add label values. */
export type RejectionReason =
  | 'invalid_payload'
  | 'missing_token'
  | 'token_expired'
  | 'invalid_token'
  | 'forbidden'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'buffer_full'
  | 'queue_unavailable'
  | 'unavailable'
  | 'internal_error'
  | 'other';

/** The reason label for an error answer, from its status and its envelope's `error.message`. */
export function rejectionReason(status: number, message: string): RejectionReason {
  switch (status) {
    case 400:
      return 'invalid_payload';
    case 401:
      return message === 'missing_token' || message === 'token_expired' ? message : 'invalid_token';
    case 403:
      return 'forbidden';
    case 413:
      return 'too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 503:
      return message === 'buffer_full' || message === 'queue_unavailable' ? message : 'unavailable';
    default:
      return status >= 500 ? 'internal_error' : 'other';
  }
}

/** From a healthy second or two up to the ten minutes and more of a database outage. */
const LAG_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];

/** The counters the line a minute reads (ActivitySummary), by the names they are registered under here. */
export const ACTIVITY_COUNTERS = {
  accepted: `${METRICS_PREFIX}events_accepted_total`,
  written: `${METRICS_PREFIX}event_rows_written_total`,
  refused: `${METRICS_PREFIX}ingest_requests_rejected_total`,
} as const;

/**
 * The ingest pipeline's metrics, in the application's registry: what the gateway accepted and refused, what the worker
 * wrote and how late. One class for both sides, since the all-in-one process is both; updated in memory on the path
 * each measures.
 */
@Injectable()
export class PipelineMetrics {
  readonly eventsAccepted: Counter;
  readonly ingestRequestsRejected: Counter<'reason'>;
  readonly eventsRejected: Counter<'reason'>;
  readonly batchWriteDuration: Histogram<'outcome'>;
  readonly ingestLag: Histogram;
  readonly eventRowsWritten: Counter;
  readonly bufferedReleaseFailures: Counter;
  readonly queueShardFailures: Counter<'shard'>;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.eventsAccepted = new Counter({
      name: ACTIVITY_COUNTERS.accepted,
      help: 'Events in batches answered 202 (queued in Redis).',
      registers,
    });
    this.ingestRequestsRejected = new Counter({
      name: ACTIVITY_COUNTERS.refused,
      help: 'POST /ingest/events requests refused, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.eventsRejected = new Counter({
      name: `${METRICS_PREFIX}events_rejected_total`,
      help:
        'Events in refused POST /ingest/events requests, by reason. Only where the body was read and has an events ' +
        'array: a request refused before that (token, size, content type, per-address limit) is in ingest_requests_rejected_total only.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.batchWriteDuration = new Histogram({
      name: `${METRICS_PREFIX}batch_write_duration_seconds`,
      help: 'Time the worker took to write one batch to PostgreSQL (one statement), by outcome.',
      labelNames: ['outcome'] as const,
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.ingestLag = new Histogram({
      name: `${METRICS_PREFIX}ingest_lag_seconds`,
      help: 'Time from accepting a batch (its received_at) to writing it, per batch that wrote rows.',
      buckets: LAG_SECONDS,
      registers,
    });
    this.eventRowsWritten = new Counter({
      name: ACTIVITY_COUNTERS.written,
      help: 'Rows inserted into events; events already stored (a redelivered or resent batch) are not counted.',
      registers,
    });
    this.queueShardFailures = new Counter({
      name: `${METRICS_PREFIX}queue_shard_failures_total`,
      help: 'Batches a gateway could not queue on a shard (QUEUE_SHARDS > 1) and tried on the next, by shard.',
      labelNames: ['shard'] as const,
      registers,
    });
    this.bufferedReleaseFailures = new Counter({
      name: `${METRICS_PREFIX}buffered_release_failures_total`,
      help:
        "Releases of the buffered-events counter that failed. A gateway's failed release leaves the counter too high until " +
        "reconciled (docs/operations.md); a worker's fails its job, whose retry releases again.",
      registers,
    });
  }

  /** A refused `POST /ingest/events`: the request always, its events when its body was read and holds an array. */
  recordRejection(status: number, message: string, body: unknown): void {
    const reason = rejectionReason(status, message);
    this.ingestRequestsRejected.inc({ reason });
    const events = typeof body === 'object' && body !== null ? (body as { events?: unknown }).events : undefined;
    if (Array.isArray(events)) this.eventsRejected.inc({ reason }, events.length);
  }

  /** A batch the worker wrote: its rows, and how long after its acceptance, when it wrote any (a redelivery does not). */
  recordWrite(receivedAt: string, rows: number, writtenAtMs = Date.now()): void {
    this.eventRowsWritten.inc(rows);
    const acceptedAtMs = Date.parse(receivedAt);
    // Gateway and worker clocks may differ a little: a write never precedes its acceptance.
    if (rows > 0 && Number.isFinite(acceptedAtMs)) this.ingestLag.observe(Math.max(0, writtenAtMs - acceptedAtMs) / 1000);
  }
}
