import { Queue } from 'bullmq';
import { INGEST_QUEUE, IngestBatchJobData } from '#contract';
import { fastFailRedisOptions, QueueConfig, redisOptionsFromUrl, withDeadline } from '#platform';

const CONNECT_WITHIN_MS = 5000;

/**
 * The ingest queue for an operator's command, connected, or an error that says which Redis could not be reached: a
 * command must not hang, nor print a stack trace per reconnection attempt, when Redis is away.
 */
export async function openIngestQueue(config: QueueConfig): Promise<Queue<IngestBatchJobData>> {
  const queue = new Queue<IngestBatchJobData>(INGEST_QUEUE, {
    connection: fastFailRedisOptions(config.redisUrl, config.redisTlsCa),
    prefix: config.prefix,
  });
  let lastError: Error | undefined;
  queue.on('error', (error) => (lastError = error));
  try {
    await withDeadline(queue.waitUntilReady(), CONNECT_WITHIN_MS, 'Redis');
    return queue;
  } catch (error) {
    // Not awaited: while Redis is away a disconnect can wait as long as the connection does. The command exits.
    void queue.disconnect().catch(() => undefined);
    const { host, port } = redisOptionsFromUrl(config.redisUrl);
    throw new Error(`Redis ${host}:${port} unreachable: ${(lastError ?? (error as Error)).message}`, { cause: error });
  }
}
