import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { encodeBatchJob, INGEST_BATCH_JOB, INGEST_QUEUE, IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics } from '#pipeline';
import {
  ApiError,
  AppConfig,
  DeadlineExceeded,
  describeError,
  InjectConfig,
  InjectRedis,
  OutageLog,
  RedisConnection,
  waitForReplicas,
  withDeadline,
} from '#platform';
import type { IngestBatchDto } from './dto/ingest-batch.dto';

export interface EnqueuedBatch {
  batchId: string;
  accepted: number;
  /** Events accepted service-wide and not yet written, this batch included. */
  buffered: number;
}

// Redis is local to the gateway: an answer slower than this means it is down or overloaded. One budget for all the
// commands of a batch (reservation, job, WAIT), so that a Redis failing over, slow at each step, is still a 503 in time.
export const REDIS_DEADLINE_MS = 1500;
const RETRY_AFTER_SECONDS = 5;

/** The façade the controller calls: one BullMQ job per accepted batch, answered only once it is in Redis. */
@Injectable()
export class IngestProducer {
  private readonly logger = new Logger(IngestProducer.name);
  private readonly refusals = new OutageLog(this.logger, 'Redis is failing, batches are refused with 503 queue_unavailable');
  private readonly bufferFull = new OutageLog(
    this.logger,
    'the buffer is full (BUFFER_MAX_EVENTS), batches are refused with 503 buffer_full',
  );
  private readonly releaseFailures = new OutageLog(
    this.logger,
    'releasing refused batches from the buffered counter failed; it may stay too high until reconciled (docs/operations.md)',
    'error',
  );

  constructor(
    @InjectQueue(INGEST_QUEUE) private readonly queue: Queue<IngestBatchJobData>,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: PipelineMetrics,
    private readonly buffered: BufferedEvents,
  ) {
    // Without a listener BullMQ prints each connection error; the shared Redis client's log already reports an outage.
    queue.on('error', (error) => this.logger.debug(`queue connection: ${error.message}`));
  }

  /** Queues a validated batch; `text` is its body as received, which the job carries (see IngestBatchJobData). */
  async enqueueBatch(batch: IngestBatchDto, text: string, receivedAt = new Date()): Promise<EnqueuedBatch> {
    const count = batch.events.length;
    const data = encodeBatchJob({
      batch_id: randomUUID(),
      user_id: batch.user_id,
      accepted: count,
      received_at: receivedAt.toISOString(),
      body: text,
    });
    // Nothing is sent while the connection is down: no command, nothing to take back.
    if (this.redis.status !== 'ready') this.refuse(new Error(`Redis connection ${this.redis.status}`));
    const release = () => this.release(data.batch_id, count);
    const deadline = Date.now() + REDIS_DEADLINE_MS;

    // Reserved before the job exists, so the worker's release can never run first. A reservation whose answer was
    // lost or late is taken back whatever became of it: releasing a batch never reserved is a no-op.
    const reservation = await this.redisCall(this.buffered.reserve(data.batch_id, count), deadline, release, release);
    if (!reservation.accepted) {
      this.bufferFull.failed(new Error(`${reservation.buffered} events buffered, the limit is ${this.config.queue.bufferMaxEvents}`));
      throw ApiError.unavailable('buffer_full', RETRY_AFTER_SECONDS);
    }
    this.bufferFull.recovered();
    // A job added after its deadline stays counted: the worker writes it and releases it as usual.
    await this.redisCall(this.queue.add(INGEST_BATCH_JOB, data, this.jobOptions(data.batch_id)), deadline, release);
    if (this.config.queue.redis.waitReplicas > 0) await this.replicated(data.batch_id, deadline);
    this.refusals.recovered();
    this.metrics.eventsAccepted.inc(count);
    return { batchId: data.batch_id, accepted: count, buffered: Math.max(reservation.buffered, count) };
  }

  /**
   * A Redis operation bounded in time (by `deadline`, epoch ms); any failure is a 503 the client can retry. `onFailure`
   * runs when it fails, in time or after its deadline; `onLateSuccess` when it succeeds after the client has had its 503.
   */
  private async redisCall<T>(operation: Promise<T>, deadline: number, onFailure: () => void, onLateSuccess?: () => void): Promise<T> {
    try {
      const left = Math.max(0, deadline - Date.now());
      return await withDeadline(operation, left, 'Redis', { succeeded: onLateSuccess, failed: onFailure });
    } catch (error) {
      if (!(error instanceof DeadlineExceeded)) onFailure();
      return this.refuse(error);
    }
  }

  /**
   * REDIS_WAIT_REPLICAS: the batch is answered 202 only once that many replicas hold its job, so that a failover to
   * one of them cannot lose it (Redis replicates asynchronously). WAIT goes on the connection that added the job (see
   * waitForReplicas). Too few acknowledgements is a 503, though the job is queued and will be written (so it is not
   * released): the client's retry sends the same event_ids, which the database stores once.
   */
  private async replicated(batchId: string, deadline: number): Promise<void> {
    const { waitReplicas, waitTimeoutMs } = this.config.queue.redis;
    // BullMQ's own client, a proxy of the ioredis Redis or Cluster it writes with.
    const acknowledged = await this.redisCall(
      this.queue
        .getBackend()
        .client.then((client) =>
          waitForReplicas(client as unknown as RedisConnection, this.queue.toKey(batchId), waitReplicas, waitTimeoutMs),
        ),
      deadline,
      () => undefined,
    );
    if (acknowledged < waitReplicas) {
      this.refuse(new Error(`${acknowledged} of ${waitReplicas} replicas (REDIS_WAIT_REPLICAS) acknowledged within ${waitTimeoutMs} ms`));
    }
  }

  private refuse(cause: unknown): never {
    this.refusals.failed(cause);
    throw ApiError.unavailable('queue_unavailable', RETRY_AFTER_SECONDS);
  }

  /** Takes a batch's events out of the buffered counter; a release that fails is logged and counted, never thrown. */
  private release(batchId: string, count: number): void {
    void this.buffered.release(batchId, count).then(
      () => this.releaseFailures.recovered(),
      (error: unknown) => this.releaseFailures.failed(new Error(`batch ${batchId} (${count} events): ${describeError(error)}`)),
    );
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
