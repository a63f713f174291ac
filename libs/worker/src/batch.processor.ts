import { Injectable, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { BatchJobFormatError, decodeBatchJob, IngestBatch, IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, QueueShard } from '#pipeline';
import { BatchCoalescer } from './batch.coalescer';

/**
 * Writes one queued batch (in a group with the batches of other jobs: BatchCoalescer), then, once it is committed,
 * releases its events from the buffered counter: once per batch however often the job is delivered (BufferedEvents). Errors propagate so that BullMQ retries the job with backoff and keeps it once its
 * attempts are spent; nothing here swallows a failure. A release that fails fails the job too: its retry finds the
 * rows stored (a no-op) and releases again.
 */
@Injectable()
export class BatchProcessor {
  private readonly logger = new Logger(BatchProcessor.name);

  constructor(
    private readonly coalescer: BatchCoalescer,
    private readonly buffered: BufferedEvents,
    private readonly metrics: PipelineMetrics,
  ) {}

  /** `shard`: the queue the job came from, whose counter holds its events. */
  async process(job: Job<IngestBatchJobData>, shard: QueueShard): Promise<number> {
    const batch = decode(job.data);
    const count = batch.events.length;
    const inserted = await this.write(batch);
    // Jobs queued before reservations existed were counted by a plain INCRBY.
    await this.buffered.release(shard, batch.batch_id, count, job.data.reserved !== true);
    if (inserted < count) {
      this.logger.debug(`batch ${batch.batch_id}: ${count - inserted} events were already stored`);
    }
    return inserted;
  }

  /** The write itself (its wait for its group included), timed by outcome; a written batch counts its rows and its lag since acceptance. */
  private async write(batch: IngestBatch): Promise<number> {
    const stopTimer = this.metrics.batchWriteDuration.startTimer();
    let inserted: number;
    try {
      inserted = await this.coalescer.write(batch);
    } catch (error) {
      stopTimer({ outcome: 'failed' });
      throw error;
    }
    stopTimer({ outcome: 'written' });
    this.metrics.recordWrite(batch.received_at, inserted);
    return inserted;
  }
}

/** A job that does not decode never will: it fails at once and is kept as failed, without spending its retries. */
function decode(data: IngestBatchJobData): IngestBatch {
  try {
    return decodeBatchJob(data);
  } catch (error) {
    if (error instanceof BatchJobFormatError) throw new UnrecoverableError(error.message);
    throw error;
  }
}
