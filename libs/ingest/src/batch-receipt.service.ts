import { Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { BatchReceiptStore, IngestBatchJobData, StoredBatchReceipt } from '#contract';
import { ApiError, describeError, withDeadline } from '#platform';
import type { BatchReceiptDto } from './dto/batch-receipt.dto';
import { IngestQueues } from './ingest-queues';

// Redis and PostgreSQL are local: an answer slower than this means one is down or overloaded. The two lookups together
// stay under the 2 s within which a client gets its answer, 503 included.
const LOOKUP_DEADLINE_MS = 800;
const RETRY_AFTER_SECONDS = 5;

/**
 * Where a batch stands. While it is in the queue its BullMQ job (id = batch_id) says: waiting, active or delayed
 * between retries is `queued`, failed (attempts spent; failed jobs are never removed) is `failed`. A written job is
 * removed from the queue, and its receipt row, written in the same statement as its events, says `written`. Only
 * the player who sent a batch sees it: for anyone else it does not exist.
 */
@Injectable()
export class BatchReceiptService {
  private readonly logger = new Logger(BatchReceiptService.name);

  constructor(
    private readonly queues: IngestQueues,
    private readonly store: BatchReceiptStore,
  ) {}

  /** The receipt, or undefined for an unknown, expired or someone else's batch. 503 when neither store can answer. */
  async find(batchId: string, userId: string): Promise<BatchReceiptDto | undefined> {
    let queued: { job: Job<IngestBatchJobData>; state: string } | undefined;
    let queueError: unknown;
    try {
      queued = await this.queuedJob(batchId);
    } catch (error) {
      // A written batch can still be answered from its receipt row.
      queueError = error;
    }

    if (queued !== undefined) {
      const { job, state } = queued;
      if (job.data.user_id !== userId) return undefined;
      const receipt = { batch_id: batchId, accepted: job.data.accepted };
      if (state === 'failed') return { ...receipt, status: 'failed' };
      if (state !== 'completed') return { ...receipt, status: 'queued' };
      // Written a moment ago and not removed yet: the row has written_at, which is optional when it cannot be read.
      const stored = await this.storedReceipt(batchId, userId).catch(() => undefined);
      return { ...receipt, status: 'written', ...(stored === undefined ? {} : { written_at: stored.writtenAt.toISOString() }) };
    }

    let stored: StoredBatchReceipt | undefined;
    try {
      stored = await this.storedReceipt(batchId, userId);
    } catch (error) {
      this.logger.warn(`receipt ${batchId}: the database did not answer: ${describeError(error)}`);
      throw ApiError.unavailable('database_unavailable', RETRY_AFTER_SECONDS);
    }
    if (stored !== undefined) {
      return { batch_id: batchId, status: 'written', accepted: stored.accepted, written_at: stored.writtenAt.toISOString() };
    }
    if (queueError !== undefined) {
      this.logger.warn(`receipt ${batchId}: Redis did not answer: ${describeError(queueError)}`);
      throw ApiError.unavailable('queue_unavailable', RETRY_AFTER_SECONDS);
    }
    return undefined;
  }

  /**
   * The batch's job and its state, or undefined once it is gone from the queue (written, or removed by an operator).
   * Looked for in every shard at once: the gateway that queued it may have skipped a failing shard.
   */
  private async queuedJob(batchId: string): Promise<{ job: Job<IngestBatchJobData>; state: string } | undefined> {
    const lookup = async () => {
      const jobs = await Promise.all(this.queues.all.map(({ queue }) => queue.getJob(batchId)));
      const job = jobs.find((found) => found !== undefined && found !== null);
      if (!job) return undefined;
      const state = await job.getState();
      // 'unknown': removed between the two calls, which is what a completed job does.
      return state === 'unknown' ? undefined : { job, state };
    };
    return withDeadline(lookup(), LOOKUP_DEADLINE_MS, 'Redis');
  }

  private storedReceipt(batchId: string, userId: string): Promise<StoredBatchReceipt | undefined> {
    return withDeadline(this.store.find(batchId, userId), LOOKUP_DEADLINE_MS, 'PostgreSQL');
  }
}
