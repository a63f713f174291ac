import { Queue } from 'bullmq';
import { createRedisConnection, type RedisConnectionConfig } from '#platform';
import { INGEST_QUEUE, IngestBatchJobData } from '#contract';
import type { QueueShard } from './queue-shards';

/** A shard and the BullMQ queue that adds to it or looks at it. */
export interface ShardQueue {
  shard: QueueShard;
  queue: Queue<IngestBatchJobData>;
}

/**
 * A Queue per shard, all on one fail-fast Redis connection of the configured topology (a Queue never blocks, so they can share it:
 * https://docs.bullmq.io/guide/connections), and how to close them and it.
 */
export function openShardQueues(
  shards: readonly QueueShard[],
  redisConfig: RedisConnectionConfig,
  onError: (error: Error) => void,
): { queues: ShardQueue[]; close: () => Promise<void> } {
  if (shards.length === 0) return { queues: [], close: () => Promise.resolve() };
  const redis = createRedisConnection(redisConfig, 'command');
  redis.on('error', onError);
  const queues = shards.map((shard) => {
    const queue = new Queue<IngestBatchJobData>(INGEST_QUEUE, { connection: redis, prefix: shard.prefix });
    queue.on('error', onError);
    return { shard, queue };
  });
  const close = async () => {
    await Promise.all(queues.map(({ queue }) => queue.close().catch(() => undefined)));
    // While Redis is away the connection cannot send QUIT: drop it instead.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  };
  return { queues, close };
}
