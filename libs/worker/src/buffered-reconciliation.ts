import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { BufferedEvents, IngestQueueMonitor, releaseOrphanedBatches } from '#pipeline';
import { AppConfig, describeError, InjectConfig } from '#platform';
import { PeriodicChore } from './periodic-chore';

/**
 * Every BUFFER_RECONCILE_INTERVAL_SECONDS, releases from the buffered counters the batches counted whose job does not
 * exist (releaseOrphanedBatches), so that a gateway killed between counting a batch and queueing it, or a Redis
 * failover that kept the count and lost the job, does not leave `buffered` too high until an operator runs
 * `npm run jobs:reconcile-buffered`. Every worker runs it; a batch is released once whoever finds it. A run still going
 * is not joined by another; shutdown ends its wait and waits for the rest.
 */
@Injectable()
export class BufferedReconciliation implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BufferedReconciliation.name);
  private readonly chore: PeriodicChore;
  private readonly stopping = new AbortController();

  constructor(
    private readonly buffered: BufferedEvents,
    private readonly monitor: IngestQueueMonitor,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.chore = new PeriodicChore(config.queue.bufferReconcileIntervalMs, () => this.reconcile(), { runAtStart: false });
  }

  onApplicationBootstrap(): void {
    if (this.config.queue.bufferReconcileIntervalMs > 0) this.chore.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // A run waiting out its grace stops now: what it has not released, the next run (of any worker) will.
    this.stopping.abort();
    await this.chore.stop();
  }

  private async reconcile(): Promise<void> {
    try {
      const { batches, events } = await releaseOrphanedBatches(this.buffered, this.monitor.queues, undefined, this.stopping.signal);
      if (batches > 0) this.logger.warn(`released ${batches} batch(es) counted as buffered but never queued (${events} events)`);
    } catch (error) {
      // Redis away: the next run tries again, and readiness already says so.
      this.logger.debug(`buffered reconciliation failed: ${describeError(error)}`);
    }
  }
}
