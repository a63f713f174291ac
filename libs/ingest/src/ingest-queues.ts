import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { INGEST_QUEUE, IngestBatchJobData } from '#contract';
import { drainedShards, openShardQueues, ShardQueue } from '#pipeline';
import { AppConfig, InjectConfig } from '#platform';

/**
 * The gateway's handles on the ingest queue's shards, on fail-fast connections: `produced`, the shards it adds batches
 * to (QUEUE_SHARDS), and `all`, those and the unsharded queue they drain, where a batch's receipt is looked for.
 */
@Injectable()
export class IngestQueues implements OnApplicationShutdown {
  private readonly logger = new Logger(IngestQueues.name);
  readonly all: readonly ShardQueue[];
  readonly produced: readonly ShardQueue[];
  private readonly close: () => Promise<void>;

  constructor(@InjectConfig() config: AppConfig, @InjectQueue(INGEST_QUEUE) unsharded: Queue<IngestBatchJobData>) {
    const onError = (error: Error) => this.logger.debug(`queue connection: ${error.message}`);
    // Without a listener BullMQ prints each connection error; the shared Redis client's log already reports an outage.
    unsharded.on('error', onError);
    const shards = drainedShards(config.queue);
    // The unsharded queue is BullModule's (ingest.module.ts); the tagged shards share a connection of their own.
    const opened = openShardQueues(
      shards.filter((shard) => shard.prefix !== config.queue.prefix),
      config.queue.redis,
      onError,
    );
    const byPrefix = new Map(opened.queues.map((entry) => [entry.shard.prefix, entry]));
    this.all = shards.map((shard) => byPrefix.get(shard.prefix) ?? { shard, queue: unsharded });
    this.produced = this.all.filter(({ shard }) => shard.index >= 0);
    this.close = opened.close;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
