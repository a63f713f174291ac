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
  /** Resolves when the thread has exited, whenever that was: a shutdown never waits for an exit that came before. */
  private exit?: Promise<void>;
  private closing = false;
  private closed = false;
  private exited = false;
  private nextId = 0;
  private readonly scrapes = new Map<number, (values: MetricValues | undefined) => void>();
  /**
   * The thread's counts as last read (its final counts once it has closed): a scrape that gets no answer, and every
   * scrape after the thread has stopped, reports these, so that counters never go back.
   */
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
            this.closed = true;
            this.lastValues = message.values ?? this.lastValues;
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
    this.exit = new Promise<void>((resolve) => {
      worker.on('exit', (code) => {
        this.exited = true;
        resolve();
        for (const answer of this.scrapes.values()) answer(undefined);
        this.scrapes.clear();
        if (!this.closing) {
          this.logger.error(`the writer thread stopped (status ${code}); exiting, the queued batches stay in Redis`);
          process.exit(1);
        }
        // Stopped during the shutdown without closing: its active jobs are taken up again once their locks lapse.
        if (!this.closed) process.exitCode = 1;
      });
    });
    this.metrics.addThread(() => this.readMetrics());
    await started;
    this.logger.log('the queue worker runs in a worker thread of its own');
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.worker === undefined || this.closing || this.exited) return;
    this.closing = true;
    this.post({ type: 'close' });
    await this.exit;
  }

  private async readMetrics(): Promise<MetricValues> {
    if (this.exited) return this.lastValues;
    const id = this.nextId++;
    const answer = new Promise<MetricValues | undefined>((resolve) => this.scrapes.set(id, resolve));
    this.post({ type: 'metrics', id });
    try {
      this.lastValues = (await withDeadline(answer, METRICS_DEADLINE_MS, 'the writer thread')) ?? this.lastValues;
    } catch (error) {
      this.logger.debug(`the writer thread's counts are those of its last answer: ${describeError(error)}`);
    } finally {
      this.scrapes.delete(id);
    }
    return this.lastValues;
  }

  private post(message: ToWriterThread): void {
    this.worker?.postMessage(message);
  }
}

/** The all-in-one's worker, in a thread of its own (AppModule.forRoot with WRITER_THREAD). */
@Module({ providers: [WriterThread] })
export class WriterThreadHostModule {}
