import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  AppConfig,
  bufferedEventsKey,
  INGEST_BATCH_JOB,
  INGEST_QUEUE,
  IngestBatchJobData,
  InjectConfig,
  InjectRedis,
  Metrics,
} from '#common';
import type { IngestBatchDto } from './dto/ingest-batch.dto';

export interface EnqueuedBatch {
  batchId: string;
  accepted: number;
  /** Events accepted service-wide and not yet written, this batch included. */
  buffered: number;
}

// Redis is local to the gateway: an answer slower than this means it is down or overloaded.
const REDIS_DEADLINE_MS = 1500;
const RETRY_AFTER_SECONDS = 5;

class DeadlineExceeded extends Error {}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** What to do when a Redis operation fails, or completes after its deadline, when the client has had its 503. */
interface Settlement {
  failed?: () => Promise<unknown>;
  succeededLate?: () => Promise<unknown>;
}

/** The façade the controller calls: one BullMQ job per accepted batch, answered only once it is in Redis. */
@Injectable()
export class IngestProducer {
  private readonly logger = new Logger(IngestProducer.name);

  constructor(
    @InjectQueue(INGEST_QUEUE) private readonly queue: Queue<IngestBatchJobData>,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  /** Queues a validated batch; `text` is its body as received, which the job carries (see IngestBatchJobData). */
  async enqueueBatch(batch: IngestBatchDto, text: string, receivedAt = new Date()): Promise<EnqueuedBatch> {
    const count = batch.events.length;
    const data: IngestBatchJobData = {
      batch_id: randomUUID(),
      user_id: batch.user_id,
      accepted: count,
      received_at: receivedAt.toISOString(),
      body: text,
    };
    const counterKey = bufferedEventsKey(this.config.queue.prefix);
    const release = () => this.redis.decrby(counterKey, count).catch(() => undefined);

    // Counted before the job exists, so the worker's decrement can never run first. An increment that lands after
    // its deadline is taken back, or the counter would drift up with events that were never queued.
    const buffered = await this.redisCall(this.redis.incrby(counterKey, count), { succeededLate: release });
    if (buffered > this.config.queue.bufferMaxEvents) {
      await release();
      this.logger.warn(`batch refused: ${buffered - count} events buffered, the limit is ${this.config.queue.bufferMaxEvents}`);
      throw ApiError.unavailable('buffer_full', RETRY_AFTER_SECONDS);
    }
    // A job added after its deadline stays counted: the worker writes it and decrements as usual.
    await this.redisCall(this.queue.add(INGEST_BATCH_JOB, data, this.jobOptions(data.batch_id)), { failed: release });
    this.metrics.eventsAccepted.inc(count);
    return { batchId: data.batch_id, accepted: count, buffered: Math.max(buffered, count) };
  }

  /** A Redis operation bounded in time; any failure is a 503 the client can retry. */
  private async redisCall<T>(operation: Promise<T>, settle: Settlement): Promise<T> {
    try {
      return await within(operation, REDIS_DEADLINE_MS);
    } catch (error) {
      if (error instanceof DeadlineExceeded) {
        void operation.then(settle.succeededLate, settle.failed);
      } else {
        await settle.failed?.();
      }
      this.logger.warn(`batch not queued: ${error instanceof Error ? error.message : String(error)}`);
      throw ApiError.unavailable('queue_unavailable', RETRY_AFTER_SECONDS);
    }
  }

  private jobOptions(batchId: string) {
    const { jobAttempts, jobBackoffMs } = this.config.queue;
    return {
      // The batch id doubles as the job id, so adding the same batch twice cannot create two jobs.
      jobId: batchId,
      attempts: jobAttempts,
      backoff: { type: 'exponential', delay: jobBackoffMs },
      removeOnComplete: true,
      removeOnFail: false,
    } as const;
  }
}
