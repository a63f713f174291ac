import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Worker } from 'bullmq';
import { AppConfig, INGEST_QUEUE, IngestBatchJobData, InjectConfig, retryWindowMs, workerRedisOptions } from '#common';
import { BatchProcessor } from './batch.processor';

/**
 * Runs the BullMQ worker for the ingest queue. It is created here rather than through @Processor so that its
 * connection retries forever (maxRetriesPerRequest: null) while the producer's fails fast.
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BatchWorker.name);
  private worker?: Worker<IngestBatchJobData, number>;

  constructor(
    private readonly processor: BatchProcessor,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const { redisUrl, prefix, workerConcurrency, workerLockDurationMs } = this.config.queue;
    const worker = new Worker<IngestBatchJobData, number>(INGEST_QUEUE, (job) => this.processor.process(job), {
      connection: workerRedisOptions(redisUrl),
      prefix,
      concurrency: workerConcurrency,
      // A job whose worker was killed is taken up again once its lock lapses.
      lockDuration: workerLockDurationMs,
      stalledInterval: workerLockDurationMs,
    });
    worker.on('failed', (job, error) => {
      const attempts = job?.opts.attempts ?? 1;
      const final = job !== undefined && job.attemptsMade >= attempts;
      this.logger.warn(
        `batch ${job?.id ?? '?'} attempt ${job?.attemptsMade ?? '?'}/${attempts} failed${final ? ' (kept as failed)' : ''}: ${error.message}`,
      );
    });
    worker.on('error', (error) => this.logger.error(`worker error: ${error.message}`));
    this.worker = worker;
    const window = Math.round(retryWindowMs(this.config.queue.jobAttempts, this.config.queue.jobBackoffMs) / 60_000);
    this.logger.log(`writing batches, ${workerConcurrency} at a time; a failing batch is retried for about ${window} min`);
  }

  /** Runs before the database pool and Redis clients close: the active jobs finish, jobs not started stay queued. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
