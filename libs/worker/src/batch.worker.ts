import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { EventStore, INGEST_QUEUE, IngestBatchJobData, StoreConnection, StoreUnavailable } from '#contract';
import { retryWindowMs } from '#pipeline';
import { AppConfig, BullmqConnections, describeError, InjectConfig, InjectRedis, OutageLog } from '#platform';
import { BatchProcessor } from './batch.processor';

// While PostgreSQL cannot be reached, the queue waits this long between tries, doubling up to the maximum: a database
// that comes back is written to again within a few seconds.
const PAUSE_MIN_MS = 500;
const PAUSE_MAX_MS = 4000;

/**
 * Runs the BullMQ worker for the ingest queue, once the database is connected and migrated. It is created here rather
 * than through @Processor so that its connection retries forever (maxRetriesPerRequest: null) while the producer's
 * fails fast.
 *
 * A job that fails because PostgreSQL cannot be reached goes back to the queue without spending an attempt, and the
 * queue pauses (BullMQ's manual rate limit, https://docs.bullmq.io/guide/rate-limiting#manual-rate-limit) and tries
 * again: an outage of any length delays writes and fails no batch. Every other failure spends an attempt, and a batch
 * whose attempts are spent is kept as failed.
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BatchWorker.name);
  private readonly outage = new OutageLog(
    this.logger,
    'PostgreSQL unreachable, writes paused (batches wait in the queue, no attempt spent)',
  );
  private worker?: Worker<IngestBatchJobData, number>;
  private pauseMs = PAUSE_MIN_MS;
  private closing = false;

  constructor(
    private readonly processor: BatchProcessor,
    private readonly store: EventStore,
    private readonly connection: StoreConnection,
    @InjectConfig() private readonly config: AppConfig,
    @InjectRedis() private readonly redis: Redis,
    private readonly connections: BullmqConnections,
  ) {}

  onApplicationBootstrap(): void {
    const { prefix, workerConcurrency, workerLockDurationMs } = this.config.queue;
    const worker = new Worker<IngestBatchJobData, number>(INGEST_QUEUE, (job) => this.process(job), {
      connection: this.connections.for('worker'),
      prefix,
      concurrency: workerConcurrency,
      // A job whose worker was killed is taken up again once its lock lapses.
      lockDuration: workerLockDurationMs,
      stalledInterval: workerLockDurationMs,
      autorun: false,
    });
    worker.on('failed', (job, error) => {
      const attempts = job?.opts.attempts ?? 1;
      const final = job !== undefined && (job.attemptsMade >= attempts || error instanceof UnrecoverableError);
      // A refused statement by its SQLSTATE only: PostgreSQL's message can quote the batch's values.
      this.logger.warn(
        `batch ${job?.id ?? '?'} attempt ${job?.attemptsMade ?? '?'}/${attempts} failed${final ? ' (kept as failed)' : ''}: ${this.store.describeFailure(error) ?? error.message}`,
      );
    });
    // Mostly a Redis connection that keeps failing: said once, then a reminder a minute.
    const errors = new OutageLog(this.logger, 'the queue worker is failing', 'error');
    worker.on('error', (error) => errors.failed(error));
    worker.on('ready', () => errors.recovered());
    this.worker = worker;
    void this.connection.whenReady().then(() => {
      if (this.closing) return;
      const window = Math.round(retryWindowMs(this.config.queue.jobAttempts, this.config.queue.jobBackoffMs) / 60_000);
      this.logger.log(`writing batches, ${workerConcurrency} at a time; a failing batch is retried for about ${window} min`);
      return worker.run().catch((error: unknown) => this.logger.error(`worker stopped: ${describeError(error)}`));
    });
  }

  /**
   * Runs before the database pool and Redis clients close: the active jobs finish, jobs not started stay queued. While
   * Redis cannot be reached no job can finish, and close() would wait for the connection forever: it is left to the
   * process's exit, and the jobs' locks lapse in Redis.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const closed = this.worker?.close();
    if (this.redis.status === 'ready') await closed;
    else closed?.catch(() => undefined);
  }

  private async process(job: Job<IngestBatchJobData>): Promise<number> {
    try {
      const written = await this.processor.process(job);
      this.pauseMs = PAUSE_MIN_MS;
      this.outage.recovered();
      return written;
    } catch (error) {
      if (!(error instanceof StoreUnavailable) || this.worker === undefined) throw error;
      this.outage.failed(error);
      await this.worker.rateLimit(this.pauseMs);
      this.pauseMs = Math.min(this.pauseMs * 2, PAUSE_MAX_MS);
      throw Worker.RateLimitError();
    }
  }
}
