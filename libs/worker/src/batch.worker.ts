import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { EventStore, INGEST_QUEUE, IngestBatchJobData, StoreConnection, StoreUnavailable } from '#contract';
import { drainedShards, QueueShard, retryWindowMs } from '#pipeline';
import { AppConfig, BullmqConnections, describeError, InjectConfig, InjectRedis, OutageLog } from '#platform';
import { BatchProcessor } from './batch.processor';

// While PostgreSQL cannot be reached, the queue waits this long between tries, doubling up to the maximum: a database
// that comes back is written to again within a few seconds.
const PAUSE_MIN_MS = 500;
const PAUSE_MAX_MS = 4000;

/**
 * What a worker process started on its own (apps/worker) assumes when WORKER_CONCURRENCY is not set: enough jobs at
 * once for write groups to form, about 15 batches a statement, which drained a backlog at 0.94-1.03 x the per-batch
 * COPY ceiling against 0.71 at 4 (bench/levers.md). The all-in-one takes fewer, as it shares the cores with its HTTP
 * side: 16 on its writer thread, 4 on the main thread (the configuration's defaults).
 */
export const WORKER_PROCESS_DEFAULTS: Readonly<Record<string, string>> = { WORKER_CONCURRENCY: '64' };

/**
 * The queues a worker process consumes, each with how many of its jobs it takes at a time: WORKER_CONCURRENCY split
 * over the shards (at least one each), one for the unsharded queue beside shards.
 */
export function workerSlots(queue: AppConfig['queue']): Array<{ shard: QueueShard; concurrency: number }> {
  const shards = drainedShards(queue);
  const produced = shards.filter((shard) => shard.index >= 0).length;
  const perShard = Math.max(1, Math.ceil(queue.workerConcurrency / produced));
  return shards.map((shard) => ({ shard, concurrency: shard.index < 0 && produced > 1 ? 1 : perShard }));
}

/**
 * Runs a BullMQ worker per shard of the ingest queue (and one for the unsharded queue when there are several shards:
 * it drains what a gateway of the version before shards, or before QUEUE_SHARDS was raised, queued there), once the
 * database is connected and migrated. They are created here rather than through @Processor so that their connections
 * retry forever (maxRetriesPerRequest: null) while the producer's fail fast. Each worker holds its own blocking
 * connection: a process has about two Redis connections per shard.
 *
 * A job that fails because PostgreSQL cannot be reached goes back to the queue without spending an attempt, and the
 * queue pauses (BullMQ's manual rate limit, https://docs.bullmq.io/guide/rate-limiting#manual-rate-limit) and tries
 * again: an outage of any length delays writes and fails no batch. Every other failure spends an attempt, and a batch
 * whose attempts are spent is kept as failed.
 *
 * WORKER_CONCURRENCY is split over the shards (at least one batch at a time each), so a process takes about as many
 * jobs at once as it did unsharded; the unsharded queue of a sharded deployment gets one. The jobs' batches are written
 * together, in groups (BatchCoalescer, one for all the shards).
 */
@Injectable()
export class BatchWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BatchWorker.name);
  private readonly outage = new OutageLog(
    this.logger,
    'PostgreSQL unreachable, writes paused (batches wait in the queue, no attempt spent)',
  );
  private workers: Array<Worker<IngestBatchJobData, number>> = [];
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
    const slots = workerSlots(this.config.queue);
    const shards = slots.map(({ shard }) => shard);
    const perShard = slots[0].concurrency;
    // Mostly a Redis connection that keeps failing: said once, then a reminder a minute.
    const errors = new OutageLog(this.logger, 'the queue worker is failing', 'error');
    this.workers = slots.map(({ shard, concurrency }) => this.createWorker(shard, concurrency, errors));
    void this.connection.whenReady().then(() => {
      if (this.closing) return;
      const window = Math.round(retryWindowMs(this.config.queue.jobAttempts, this.config.queue.jobBackoffMs) / 60_000);
      const over = shards.length === 1 ? '' : ` on each of ${shards.length} queues (${shards.map((shard) => shard.label).join(', ')})`;
      this.logger.log(`writing batches, ${perShard} at a time${over}; a failing batch is retried for about ${window} min`);
      for (const worker of this.workers) {
        worker.run().catch((error: unknown) => this.logger.error(`worker stopped: ${describeError(error)}`));
      }
    });
  }

  private createWorker(shard: QueueShard, concurrency: number, errors: OutageLog): Worker<IngestBatchJobData, number> {
    const { workerLockDurationMs } = this.config.queue;
    const worker: Worker<IngestBatchJobData, number> = new Worker<IngestBatchJobData, number>(
      INGEST_QUEUE,
      (job) => this.process(job, shard, worker),
      {
        connection: this.connections.for('worker'),
        prefix: shard.prefix,
        concurrency,
        // A job whose worker was killed is taken up again once its lock lapses.
        lockDuration: workerLockDurationMs,
        stalledInterval: workerLockDurationMs,
        autorun: false,
      },
    );
    worker.on('failed', (job, error) => {
      const attempts = job?.opts.attempts ?? 1;
      const final = job !== undefined && (job.attemptsMade >= attempts || error instanceof UnrecoverableError);
      // A refused statement by its SQLSTATE only: PostgreSQL's message can quote the batch's values.
      this.logger.warn(
        `batch ${job?.id ?? '?'} attempt ${job?.attemptsMade ?? '?'}/${attempts} failed${final ? ' (kept as failed)' : ''}: ${this.store.describeFailure(error) ?? error.message}`,
      );
    });
    worker.on('error', (error) => errors.failed(error));
    worker.on('ready', () => errors.recovered());
    return worker;
  }

  /**
   * Runs before the database pool and Redis clients close: the active jobs finish, jobs not started stay queued. While
   * Redis cannot be reached no job can finish, and close() would wait for the connection forever: it is left to the
   * process's exit, and the jobs' locks lapse in Redis.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const closed = Promise.all(this.workers.map((worker) => worker.close()));
    if (this.redis.status === 'ready') await closed;
    else closed.catch(() => undefined);
  }

  private async process(job: Job<IngestBatchJobData>, shard: QueueShard, worker: Worker): Promise<number> {
    try {
      const written = await this.processor.process(job, shard);
      this.pauseMs = PAUSE_MIN_MS;
      this.outage.recovered();
      return written;
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      this.outage.failed(error);
      await worker.rateLimit(this.pauseMs);
      this.pauseMs = Math.min(this.pauseMs * 2, PAUSE_MAX_MS);
      throw Worker.RateLimitError();
    }
  }
}
