import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { INGEST_QUEUE, IngestBatchJobData } from '#contract';
import { AppConfig, BullmqConnections, InjectConfig } from '#platform';

/**
 * A handle on the ingest queue for looking at it rather than feeding it: the queue gauges of `/metrics` and Bull Board.
 * Every process has one, the worker included (it has no producer queue), on its own fail-fast connection, so that a
 * Redis outage makes a scrape report less instead of hanging it.
 */
@Injectable()
export class IngestQueueMonitor implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestQueueMonitor.name);
  readonly queue: Queue<IngestBatchJobData>;

  constructor(@InjectConfig() config: AppConfig, connections: BullmqConnections) {
    this.queue = new Queue<IngestBatchJobData>(INGEST_QUEUE, {
      connection: connections.for('command'),
      prefix: config.queue.prefix,
    });
    // Without a listener a connection error would be thrown; readiness already reports Redis down.
    this.queue.on('error', (error) => this.logger.debug(`queue monitor: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    // While Redis is away the connection cannot send QUIT: drop it instead.
    await this.queue.close().catch(() => this.queue.disconnect());
  }
}
