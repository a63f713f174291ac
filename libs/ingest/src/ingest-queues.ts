import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { drainedShards, openShardQueues, ShardQueue } from '#pipeline';
import { AppConfig, fastFailRedisOptions, InjectConfig } from '#platform';

/**
 * The gateway's handles on the ingest queue's shards, on one fail-fast connection: `produced`, the shards it adds
 * batches to (QUEUE_SHARDS), and `all`, those and the unsharded queue they drain, where a batch's receipt is looked for.
 */
@Injectable()
export class IngestQueues implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestQueues.name);
  readonly all: readonly ShardQueue[];
  readonly produced: readonly ShardQueue[];
  private readonly close: () => Promise<void>;

  constructor(@InjectConfig() config: AppConfig) {
    // Without a listener BullMQ prints each connection error; the shared Redis client's log already reports an outage.
    const opened = openShardQueues(
      drainedShards(config.queue),
      fastFailRedisOptions(config.queue.redisUrl, config.queue.redisTlsCa),
      (error) => this.logger.debug(`queue connection: ${error.message}`),
    );
    this.all = opened.queues;
    this.produced = opened.queues.filter(({ shard }) => shard.index >= 0);
    this.close = opened.close;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
