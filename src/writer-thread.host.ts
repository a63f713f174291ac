import { BeforeApplicationShutdown, Injectable, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppConfig, describeError, InjectConfig, Metrics, MetricValues, withDeadline } from '#platform';
import type { FromWriterThread, ToWriterThread, WriterThreadData } from './writer-thread.protocol';

/** How long a scrape waits for the writer thread's counts: its event loop is never busy for long. */
const METRICS_DEADLINE_MS = 2000;

/**
 * Runs the all-in-one's queue worker in a worker thread (writer-thread.main), so that writing has an event loop of
 * its own instead of sharing the one that answers HTTP. Starts it before the application listens and stops it at
 * shutdown once its active jobs are done. The thread's counters reach `/metrics` and the activity line through
 * Metrics.addThread. A thread that stops on its own ends the process with status 1: nothing else would write the
 * queued batches, which stay in Redis for the restarted process.
 */
@Injectable()
export class WriterThread implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WriterThread.name);
  private worker?: Worker;
  private closing = false;
  private exited = false;
  private nextId = 0;
  private readonly scrapes = new Map<number, (values: MetricValues | undefined) => void>();
  /** The thread's last counts, kept once it has stopped: counters must not go back to 0 during a shutdown. */
  private lastValues: MetricValues = [];

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const data: WriterThreadData = { config: this.config };
    const worker = new Worker(join(__dirname, 'writer-thread.main.js'), { workerData: data });
    this.worker = worker;
    const started = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWriterThread) => {
        switch (message.type) {
          case 'started':
            resolve();
            break;
          case 'metrics':
            this.scrapes.get(message.id)?.(message.values);
            this.scrapes.delete(message.id);
            break;
          case 'closed':
            void worker.terminate();
            break;
          case 'failed':
            this.logger.error(`the writer thread failed: ${message.error}`);
            reject(new Error(`the writer thread failed: ${message.error}`));
            void worker.terminate();
            break;
        }
      });
      worker.on('error', (error) => {
        this.logger.error(`the writer thread failed: ${describeError(error)}`);
        reject(error);
      });
    });
    worker.on('exit', (code) => {
      this.exited = true;
      for (const answer of this.scrapes.values()) answer(undefined);
      this.scrapes.clear();
      if (this.closing) return;
      this.logger.error(`the writer thread stopped (status ${code}); exiting, the queued batches stay in Redis`);
      process.exit(1);
    });
    this.metrics.addThread(() => this.readMetrics());
    await started;
    this.logger.log('the queue worker runs in a worker thread of its own');
  }

  async beforeApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined || this.closing || this.exited) return;
    this.closing = true;
    this.lastValues = (await this.readMetrics().catch(() => undefined)) ?? this.lastValues;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.post({ type: 'close' });
    await exited;
  }

  private async readMetrics(): Promise<MetricValues> {
    if (this.exited) return this.lastValues;
    const id = this.nextId++;
    const answer = new Promise<MetricValues | undefined>((resolve) => this.scrapes.set(id, resolve));
    this.post({ type: 'metrics', id });
    let values: MetricValues | undefined;
    try {
      values = await withDeadline(answer, METRICS_DEADLINE_MS, 'the writer thread');
    } finally {
      this.scrapes.delete(id);
    }
    if (values === undefined) {
      if (this.closing) return this.lastValues;
      throw new Error('the writer thread could not read its metrics');
    }
    this.lastValues = values;
    return values;
  }

  private post(message: ToWriterThread): void {
    this.worker?.postMessage(message);
  }
}

/** The all-in-one's worker, in a thread of its own (AppModule.forRoot with WRITER_THREAD). */
@Module({ providers: [WriterThread] })
export class WriterThreadHostModule {}
