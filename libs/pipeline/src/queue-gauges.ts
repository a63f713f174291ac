import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { INGEST_QUEUE } from '#contract';
import { AppConfig, InjectConfig, InjectRedis, Metrics, METRICS_PREFIX, valueWithin } from '#platform';
import { bufferedEventsKey } from './ingest-queue';
import { IngestQueueMonitor } from './ingest-queue-monitor';

/** A scrape waits no longer than this for Redis; what did not answer is left out of that scrape. */
export const QUEUE_STATS_TIMEOUT_MS = 500;

export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

interface QueueStats {
  buffered?: number;
  jobs?: Record<(typeof QUEUE_JOB_STATES)[number], number>;
}

/**
 * Gauges read from Redis when `/metrics` is scraped, never on the request path: the buffered-events counter and the
 * ingest queue's job counts. They describe the whole service, so every process reports the same values (aggregate
 * them with max, not sum). A scrape never fails because of Redis: what does not answer within 500 ms is left out,
 * and `queue_stats_up` says so.
 */
@Injectable()
export class QueueGauges {
  /** The read in progress: the gauges of one scrape share it. */
  private pending?: Promise<QueueStats>;

  constructor(
    metrics: Metrics,
    private readonly monitor: IngestQueueMonitor,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    const read = () => this.read();
    const registers = [metrics.registry];
    // Labelled by queue like the job counts: prom-client always reports an unlabelled gauge (0 after a reset), and a
    // value Redis did not give must be left out, not reported as 0.
    new Gauge({
      name: `${METRICS_PREFIX}buffered_events`,
      help: 'Events accepted service-wide and not yet written (the M of "accepted:N buffered:M").',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        const { buffered } = await read();
        this.reset();
        if (buffered !== undefined) this.set({ queue: INGEST_QUEUE }, buffered);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}queue_jobs`,
      help: 'Jobs (batches) in the queue, by state. Written batches are removed, so there is no completed state.',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        const { jobs } = await read();
        this.reset();
        if (jobs === undefined) return;
        for (const state of QUEUE_JOB_STATES) this.set({ queue: INGEST_QUEUE, state }, jobs[state]);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}queue_stats_up`,
      help: `1 when this scrape read the buffered count and the queue counts from Redis within ${QUEUE_STATS_TIMEOUT_MS} ms, 0 otherwise.`,
      registers,
      async collect() {
        const { buffered, jobs } = await read();
        this.set(buffered !== undefined && jobs !== undefined ? 1 : 0);
      },
    });
  }

  private read(): Promise<QueueStats> {
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetch(): Promise<QueueStats> {
    const [buffered, counts] = await Promise.all([
      valueWithin(this.redis.get(bufferedEventsKey(this.config.queue.prefix)), QUEUE_STATS_TIMEOUT_MS, 'Redis'),
      valueWithin(this.monitor.queue.getJobCounts(...QUEUE_JOB_STATES), QUEUE_STATS_TIMEOUT_MS, 'Redis'),
    ]);
    return {
      // The key is absent until a batch is accepted; never below zero, like the 202's `buffered:M`.
      buffered: buffered === undefined ? undefined : Math.max(0, Number(buffered ?? 0) || 0),
      jobs:
        counts === undefined
          ? undefined
          : { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 },
    };
  }
}
