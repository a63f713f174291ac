import { Queue } from 'bullmq';
import { INGEST_QUEUE, IngestBatchJobData } from '#contract';
import { bullmqConnection, closeBullmqConnection, describeRedis, QueueConfig, withDeadline } from '#platform';

const CONNECT_WITHIN_MS = 5000;

/**
 * The ingest queue for an operator's command, connected, or an error that says which Redis could not be reached: a
 * command must not hang, nor print a stack trace per reconnection attempt, when Redis is away.
 */
export async function openIngestQueue(config: QueueConfig): Promise<Queue<IngestBatchJobData>> {
  const connection = bullmqConnection(config.redis, 'command');
  const queue = new Queue<IngestBatchJobData>(INGEST_QUEUE, { connection, prefix: config.prefix });
  // A Cluster handed to BullMQ is not closed with its queue.
  const close = queue.close.bind(queue);
  queue.close = () => close().finally(() => closeBullmqConnection(connection));
  let lastError: Error | undefined;
  queue.on('error', (error) => (lastError = error));
  try {
    await withDeadline(queue.waitUntilReady(), CONNECT_WITHIN_MS, 'Redis');
    return queue;
  } catch (error) {
    // Not awaited: while Redis is away a disconnect can wait as long as the connection does. The command exits.
    void queue.disconnect().catch(() => undefined);
    void closeBullmqConnection(connection);
    throw new Error(`${describeRedis(config.redis)} unreachable: ${(lastError ?? (error as Error)).message}`, { cause: error });
  }
}
