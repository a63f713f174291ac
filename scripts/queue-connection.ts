import { drainedShards, openShardQueues, ShardQueue } from '#pipeline';
import { describeRedis, QueueConfig, withDeadline } from '#platform';

const CONNECT_WITHIN_MS = 5000;

/**
 * Every shard of the ingest queue (and the unsharded queue a sharded deployment drains) for an operator's command,
 * connected, or an error that says which Redis could not be reached: a command must not hang, nor print a stack trace
 * per reconnection attempt, when Redis is away.
 */
export async function openIngestQueues(config: QueueConfig): Promise<{ queues: ShardQueue[]; close: () => Promise<void> }> {
  let lastError: Error | undefined;
  const opened = openShardQueues(drainedShards(config), config.redis, (error) => {
    lastError = error;
  });
  try {
    await withDeadline(Promise.all(opened.queues.map(({ queue }) => queue.waitUntilReady())), CONNECT_WITHIN_MS, 'Redis');
    return opened;
  } catch (error) {
    // Not awaited: while Redis is away a disconnect can wait as long as the connection does. The command exits.
    void opened.close().catch(() => undefined);
    throw new Error(`${describeRedis(config.redis)} unreachable: ${(lastError ?? (error as Error)).message}`, { cause: error });
  }
}
