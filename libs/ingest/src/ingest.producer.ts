import { Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { encodeBatchJob, INGEST_BATCH_JOB, IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, QueueShard, ShardQueue } from '#pipeline';
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
import { IngestQueues } from './ingest-queues';

export interface EnqueuedBatch {
  batchId: string;
  accepted: number;
  /** Events accepted service-wide and not yet written, this batch included. */
  buffered: number;
}

// Redis is local to the gateway: an answer slower than this means it is down or overloaded. One budget for all the
// commands of a batch (reservation, job, WAIT, over the shards tried), so that a Redis failing over, slow at each step,
// is still a 503 in time.
export const REDIS_DEADLINE_MS = 1500;
const RETRY_AFTER_SECONDS = 5;
/** A shard that failed is tried after the others for this long. */
export const SHARD_PAUSE_MS = 2000;
/** With other shards left to try, a shard gets this long (its reservation and its job) before the batch goes to the next. */
export const SHARD_DEADLINE_MS = 500;

/** Queueing on one shard failed, or may have: another shard can take the batch. */
class ShardUnavailable extends Error {
  override readonly name = 'ShardUnavailable';
}

/**
 * The façade the controller calls: one BullMQ job per accepted batch, answered only once it is in Redis. Batches go to
 * the shards in turn; a shard whose Redis operation fails (or times out) is skipped for the next one, and for
 * SHARD_PAUSE_MS is tried only after the others. The client gets 503 queue_unavailable only when no shard took the batch.
 * While other shards are left, a shard gets SHARD_DEADLINE_MS for its reservation and its job, and the last what is
 * left of REDIS_DEADLINE_MS (SHARD_DEADLINE_MS at least); no other shard is tried once REDIS_DEADLINE_MS has passed.
 * With one shard that is REDIS_DEADLINE_MS for all of the batch's commands, WAIT included. Every attempt keeps the batch id: a job added late to a shard
 * given up on is the same batch (its events are written once), and stays counted in that shard until written.
 */
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

  private readonly shardFailures = new OutageLog(this.logger, 'a queue shard is failing, its batches go to the other shards');
  private readonly shards: readonly ShardQueue[];
  private readonly failingUntil = new Map<ShardQueue, number>();
  private turn = 0;

  constructor(
    queues: IngestQueues,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: PipelineMetrics,
    private readonly buffered: BufferedEvents,
  ) {
    this.shards = queues.produced;
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

    const startedAt = Date.now();
    const order = this.order();
    let cause: unknown;
    for (const [attempt, target] of order.entries()) {
      const elapsedMs = Date.now() - startedAt;
      if (attempt > 0 && elapsedMs >= REDIS_DEADLINE_MS) break;
      const deadlineMs = attempt === order.length - 1 ? Math.max(SHARD_DEADLINE_MS, REDIS_DEADLINE_MS - elapsedMs) : SHARD_DEADLINE_MS;
      try {
        const buffered = await this.enqueueOn(target, data, count, Date.now() + deadlineMs, startedAt + REDIS_DEADLINE_MS);
        this.failingUntil.delete(target);
        if (this.failingUntil.size === 0) this.shardFailures.recovered();
        this.refusals.recovered();
        this.metrics.eventsAccepted.inc(count);
        return { batchId: data.batch_id, accepted: count, buffered };
      } catch (error) {
        if (!(error instanceof ShardUnavailable)) throw error;
        cause = error.cause;
        this.failingUntil.set(target, Date.now() + SHARD_PAUSE_MS);
        if (this.shards.length > 1) {
          this.metrics.queueShardFailures.inc({ shard: target.shard.label });
          this.shardFailures.failed(new Error(`${target.shard.label}: ${describeError(cause)}`));
        }
      }
    }
    return this.refuse(cause);
  }

  /** The shards to try, starting with the next in turn; those that failed lately last. */
  private order(): ShardQueue[] {
    const start = this.turn;
    this.turn = (this.turn + 1) % this.shards.length;
    const rotated = [...this.shards.slice(start), ...this.shards.slice(0, start)];
    const now = Date.now();
    const failing = (target: ShardQueue) => (this.failingUntil.get(target) ?? 0) > now;
    return [...rotated.filter((target) => !failing(target)), ...rotated.filter(failing)];
  }

  /**
   * Reserves the batch in the shard's counter and adds its job to the shard's queue; the events buffered service-wide.
   * ShardUnavailable when Redis failed or was late; 503 buffer_full when the buffer is full.
   */
  private async enqueueOn(
    { shard, queue }: ShardQueue,
    data: IngestBatchJobData,
    count: number,
    attemptDeadline: number,
    batchDeadline: number,
  ): Promise<number> {
    const release = () => this.release(shard, data.batch_id, count);
    // Reserved before the job exists, so the worker's release can never run first. A reservation whose answer was
    // lost or late is taken back whatever became of it: releasing a batch never reserved is a no-op.
    const reservation = await this.redisCall(this.buffered.reserve(shard, data.batch_id, count), attemptDeadline, release, release);
    if (!reservation.accepted) {
      this.bufferFull.failed(new Error(`${reservation.buffered} events buffered, the limit is ${this.config.queue.bufferMaxEvents}`));
      throw ApiError.unavailable('buffer_full', RETRY_AFTER_SECONDS);
    }
    this.bufferFull.recovered();
    // A job added after its deadline stays counted: the worker writes it and releases it as usual.
    await this.redisCall(queue.add(INGEST_BATCH_JOB, data, this.jobOptions(data.batch_id)), attemptDeadline, release);
    if (this.config.queue.redis.waitReplicas > 0) await this.replicated(queue, data.batch_id, batchDeadline);
    return Math.max(reservation.buffered, count);
  }

  /**
   * REDIS_WAIT_REPLICAS: the batch is answered 202 only once that many replicas hold its job, so that a failover to
   * one of them cannot lose it (Redis replicates asynchronously). WAIT goes on the connection that added the job (see
   * waitForReplicas). Too few acknowledgements, or no answer in time, is a 503 and not another shard: the job is queued
   * and will be written (so it is not released), and the client's retry sends the same event_ids, stored once.
   */
  private async replicated(queue: ShardQueue['queue'], batchId: string, batchDeadline: number): Promise<void> {
    const { waitReplicas, waitTimeoutMs } = this.config.queue.redis;
    let acknowledged: number;
    try {
      // BullMQ's own client, a proxy of the ioredis Redis or Cluster it writes with.
      const waited = queue
        .getBackend()
        .client.then((client) => waitForReplicas(client as unknown as RedisConnection, queue.toKey(batchId), waitReplicas, waitTimeoutMs));
      acknowledged = await withDeadline(waited, Math.max(0, batchDeadline - Date.now()), 'Redis WAIT');
    } catch (error) {
      return this.refuse(error);
    }
    if (acknowledged < waitReplicas) {
      this.refuse(new Error(`${acknowledged} of ${waitReplicas} replicas (REDIS_WAIT_REPLICAS) acknowledged within ${waitTimeoutMs} ms`));
    }
  }

  /**
   * A Redis operation bounded in time (by `deadline`, epoch ms); any failure is ShardUnavailable. `onFailure` runs when it fails, in time or
   * after its deadline; `onLateSuccess` when it succeeds after the client has had its answer.
   */
  private async redisCall<T>(operation: Promise<T>, deadline: number, onFailure: () => void, onLateSuccess?: () => void): Promise<T> {
    try {
      const left = Math.max(0, deadline - Date.now());
      return await withDeadline(operation, left, 'Redis', { succeeded: onLateSuccess, failed: onFailure });
    } catch (error) {
      if (!(error instanceof DeadlineExceeded)) onFailure();
      throw new ShardUnavailable('queueing failed', { cause: error });
    }
  }

  private refuse(cause: unknown): never {
    this.refusals.failed(cause);
    throw ApiError.unavailable('queue_unavailable', RETRY_AFTER_SECONDS);
  }

  /** Takes a batch's events out of the buffered counter; a release that fails is logged and counted, never thrown. */
  private release(shard: QueueShard, batchId: string, count: number): void {
    void this.buffered.release(shard, batchId, count).then(
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
