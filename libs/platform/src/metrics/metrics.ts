import { Injectable } from '@nestjs/common';
import { isMainThread } from 'node:worker_threads';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Histogram, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/** Every metric name starts with it, Node's default process metrics included. */
export const METRICS_PREFIX = 'playsmart_';

/** The `route` label of a request that matched no route: never the raw URL, whose values are unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Buckets of a duration histogram: from a few milliseconds to ten seconds. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A registry's metrics as values: what a worker thread sends the main thread (Metrics.addThread). */
export type MetricValues = Array<MetricObjectWithValues<MetricValue<string>>>;

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

  private readonly threads: Array<() => Promise<MetricValues>> = [];

  constructor() {
    // The process's own metrics (CPU, memory, the main event loop) once per process: a worker thread's registry (the
    // all-in-one's writer) holds only what it counts, which the main thread adds to its own (addThread).
    if (isMainThread) collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
  }

  /**
   * Counts kept by another thread of this process (what its `ownCounts()` returns): its counters and histograms are
   * added to this registry's in counts() and exposition().
   */
  addThread(read: () => Promise<MetricValues>): void {
    this.threads.push(read);
  }

  /**
   * This registry's counters and histograms (those in `names`, or all), without collecting any gauge: the gauges read
   * Redis when collected, and a read in progress is shared with the scrape that comes meanwhile (QueueGauges).
   */
  async ownCounts(names?: ReadonlySet<string>): Promise<MetricValues> {
    const counts = (this.registry.getMetricsAsArray() as unknown[]).filter(
      (metric): metric is Counter | Histogram => metric instanceof Counter || metric instanceof Histogram,
    );
    const values = await Promise.all(counts.map((metric): Promise<MetricValues[number]> => metric.get()));
    return values.filter((metric) => names?.has(metric.name) ?? true);
  }

  /** The counters and histograms of this process (those in `names`, or all): this registry's and its threads', added. */
  async counts(names?: ReadonlySet<string>): Promise<MetricValues> {
    const own = await this.ownCounts(names);
    if (this.threads.length === 0) return own;
    const theirs = (await this.threadCounts()).filter((metric) => names?.has(metric.name) ?? true);
    return AggregatorRegistry.aggregate([own, theirs]).getMetricsAsJSON();
  }

  /** What `GET /metrics` answers, in Prometheus's text format: every metric, the threads' counts added. */
  async exposition(): Promise<string> {
    if (this.threads.length === 0) return this.registry.metrics();
    const own = await this.registry.getMetricsAsJSON();
    // Aggregation drops a metric whose aggregator is 'omit' (the process start time) even when only this thread has it.
    const ours = own.map((metric) => (metric.aggregator === 'omit' ? { ...metric, aggregator: 'first' as const } : metric));
    return AggregatorRegistry.aggregate([ours, await this.threadCounts()]).metrics();
  }

  /** The threads' counters and histograms, summed with ours; their gauges, if any, left out (ours measure the same). */
  private async threadCounts(): Promise<MetricValues> {
    return (await Promise.all(this.threads.map((read) => read())))
      .flat()
      .filter((metric) => String(metric.type) === 'counter' || String(metric.type) === 'histogram')
      .map((metric) => ({ ...metric, aggregator: 'sum' as const }));
  }
}
