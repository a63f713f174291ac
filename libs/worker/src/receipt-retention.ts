import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { BatchReceiptStore, StoreConnection } from '#contract';
import { AppConfig, describeError, InjectConfig } from '#platform';

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Deletes receipts older than RECEIPT_RETENTION_SECONDS: once the database is connected, then hourly. Every worker sweeps; the deletes
 * are idempotent. A failed sweep is logged and tried again at the next one. (Receipts of failed batches are their
 * BullMQ jobs, which are kept until an operator retries or removes them.)
 */
@Injectable()
export class ReceiptRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReceiptRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly receipts: BatchReceiptStore,
    private readonly connection: StoreConnection,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.connection.whenReady().then(() => {
      if (this.stopped) return;
      this.sweepInBackground();
      this.timer = setInterval(() => this.sweepInBackground(), SWEEP_INTERVAL_MS).unref();
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One sweep, in one statement. Resolves to the number of receipts deleted. */
  sweep(): Promise<number> {
    return this.receipts.deleteOlderThan(this.config.receipts.retentionSeconds);
  }

  private sweepInBackground(): void {
    // A sweep still running (a huge backlog) is not joined by another.
    this.running ??= this.sweep()
      .then(
        (deleted) => {
          if (deleted > 0) this.logger.log(`deleted ${deleted} receipts older than ${this.config.receipts.retentionSeconds} s`);
        },
        (error: unknown) => this.logger.warn(`receipt sweep failed: ${describeError(error)}`),
      )
      .finally(() => {
        this.running = undefined;
      });
  }
}
