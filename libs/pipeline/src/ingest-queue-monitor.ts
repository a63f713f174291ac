import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, InjectConfig } from '#platform';
import { drainedShards } from './queue-shards';
import { openShardQueues, ShardQueue } from './shard-queues';

/**
 * Handles on the ingest queue's shards (and the unsharded queue they drain) for looking at them rather than feeding
 * them: the queue gauges of `/metrics` and Bull Board. Every process has them, the worker included (it has no producer
 * queue), on their own fail-fast connection, so that a Redis outage makes a scrape report less instead of hanging it.
 */
@Injectable()
export class IngestQueueMonitor implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestQueueMonitor.name);
  readonly queues: readonly ShardQueue[];
  private readonly close: () => Promise<void>;

  constructor(@InjectConfig() config: AppConfig) {
    // Without a listener a connection error would be thrown; readiness already reports Redis down.
    const opened = openShardQueues(drainedShards(config.queue), config.queue.redis, (error) =>
      this.logger.debug(`queue monitor: ${error.message}`),
    );
    this.queues = opened.queues;
    this.close = opened.close;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
