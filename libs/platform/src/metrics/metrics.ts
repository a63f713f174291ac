import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Every metric name starts with it, Node's default process metrics included. */
export const METRICS_PREFIX = 'playsmart_';

/** The `route` label of a request that matched no route: never the raw URL, whose values are unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Buckets of a duration histogram: from a few milliseconds to ten seconds. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * The registry `GET /metrics` exposes, of this application's own rather than prom-client's global one, so that several
 * applications in one process (the end-to-end tests) each count their own; with Node's process metrics and the HTTP
 * request durations. Other libraries register their metrics in it (PipelineMetrics, QueueGauges).
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: `${METRICS_PREFIX}http_request_duration_seconds`,
    help: 'Time from receiving a request to the end of its response, by route pattern, method and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
  }
}
