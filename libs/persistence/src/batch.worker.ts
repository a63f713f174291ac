import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'bullmq';
import { AppConfig, INGEST_QUEUE, IngestBatchJobData, InjectConfig, workerRedisOptions } from '#common';
import { BatchProcessor } from './batch.processor';

/**
 * Runs the BullMQ worker for the ingest queue. It is created here rather than through @Processor so that its
 * connection retries forever (maxRetriesPerRequest: null) while the producer's fails fast.
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BatchWorker.name);
  private worker?: Worker<IngestBatchJobData, number>;

  constructor(
    private readonly processor: BatchProcessor,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const { redisUrl, prefix, workerConcurrency } = this.config.queue;
    const worker = new Worker<IngestBatchJobData, number>(INGEST_QUEUE, (job) => this.processor.process(job), {
      connection: workerRedisOptions(redisUrl),
      prefix,
      concurrency: workerConcurrency,
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
  }

  async onApplicationShutdown(): Promise<void> {
    // Waits for the active jobs to finish; jobs not started stay in Redis for the next worker.
    await this.worker?.close();
  }
}
