import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { INGEST_QUEUE } from '#contract';
import { Metrics, METRICS_PREFIX, valueWithin } from '#platform';
import { BufferedEvents } from './buffered-events';
import { IngestQueueMonitor } from './ingest-queue-monitor';

/** A scrape waits no longer than this for Redis; what did not answer is left out of that scrape. */
export const QUEUE_STATS_TIMEOUT_MS = 500;

export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

type JobCounts = Record<(typeof QUEUE_JOB_STATES)[number], number>;

interface QueueStats {
  buffered?: number;
  /** Summed over the shards. */
  jobs?: JobCounts;
  /** By shard label, when there are several queues. */
  shardJobs?: Map<string, JobCounts>;
}

/**
 * Gauges read from Redis when `/metrics` is scraped, never on the request path: the buffered-events counters and the
 * ingest queue's job counts, summed over its shards (and, with several, by shard). They describe the whole service,
 * so every process reports the same values (aggregate them with max, not sum). A scrape never fails because of Redis:
 * what does not answer within 500 ms is left out, and `queue_stats_up` says so.
 */
@Injectable()
export class QueueGauges {
  /** The read in progress: the gauges of one scrape share it. */
  private pending?: Promise<QueueStats>;

  constructor(
    metrics: Metrics,
    private readonly monitor: IngestQueueMonitor,
    private readonly buffered: BufferedEvents,
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
    if (monitor.queues.length > 1) {
      new Gauge({
        name: `${METRICS_PREFIX}queue_shard_jobs`,
        help: 'Jobs (batches) in each shard of the queue (QUEUE_SHARDS; `ingest-events` is the unsharded queue they drain), by state.',
        labelNames: ['shard', 'state'] as const,
        registers,
        async collect() {
          const { shardJobs } = await read();
          this.reset();
          for (const [shard, jobs] of shardJobs ?? []) for (const state of QUEUE_JOB_STATES) this.set({ shard, state }, jobs[state]);
        },
      });
    }
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
    const [buffered, ...counts] = await Promise.all([
      valueWithin(this.buffered.current(), QUEUE_STATS_TIMEOUT_MS, 'Redis'),
      ...this.monitor.queues.map(({ queue }) => valueWithin(queue.getJobCounts(...QUEUE_JOB_STATES), QUEUE_STATS_TIMEOUT_MS, 'Redis')),
    ]);
    const shardJobs = new Map<string, JobCounts>();
    for (const [index, shardCounts] of counts.entries()) {
      if (shardCounts === undefined) continue;
      const { waiting = 0, active = 0, delayed = 0, failed = 0 } = shardCounts;
      shardJobs.set(this.monitor.queues[index].shard.label, { waiting, active, delayed, failed });
    }
    // Summed only when every shard answered: a partial sum would look like jobs that went away.
    let jobs: JobCounts | undefined;
    if (shardJobs.size === counts.length) {
      jobs = { waiting: 0, active: 0, delayed: 0, failed: 0 };
      for (const shard of shardJobs.values()) for (const state of QUEUE_JOB_STATES) jobs[state] += shard[state];
    }
    // BufferedEvents.current is never below zero.
    return { buffered, jobs, shardJobs };
  }
}
