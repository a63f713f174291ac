import { Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { AppConfig, bufferedEventsKey, decodeBatchJob, IngestBatch, IngestBatchJobData, InjectConfig, InjectRedis, Metrics } from '#common';
import { EventStore } from './event.store';

// Decrements the buffered-events counter once per job, however often the job is delivered.
const RELEASE_BUFFERED = `
  if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 604800) then
    return redis.call('DECRBY', KEYS[2], ARGV[1])
  end
  return false`;

/**
 * Writes one queued batch. Errors propagate so that BullMQ retries the job with backoff and keeps it once
 * its attempts are spent; nothing here swallows a failure.
 */
@Injectable()
export class BatchProcessor {
  private readonly logger = new Logger(BatchProcessor.name);

  constructor(
    private readonly store: EventStore,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async process(job: Job<IngestBatchJobData>): Promise<number> {
    const batch = decodeBatchJob(job.data);
    const count = batch.events.length;
    const inserted = await this.write(batch);
    const { prefix } = this.config.queue;
    await this.redis.eval(RELEASE_BUFFERED, 2, `${bufferedEventsKey(prefix)}:released:${job.id}`, bufferedEventsKey(prefix), count);
    if (inserted < count) {
      this.logger.debug(`batch ${batch.batch_id}: ${count - inserted} events were already stored`);
    }
    return inserted;
  }

  /** The write itself, timed by outcome; a written batch counts its rows and its lag since acceptance. */
  private async write(batch: IngestBatch): Promise<number> {
    const stopTimer = this.metrics.batchWriteDuration.startTimer();
    let inserted: number;
    try {
      inserted = await this.store.insertBatch(batch);
    } catch (error) {
      stopTimer({ outcome: 'failed' });
      throw error;
    }
    stopTimer({ outcome: 'written' });
    this.metrics.recordWrite(batch.received_at, inserted);
    return inserted;
  }
}
