import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { BatchReceiptStore, StoreConnection } from '#contract';
import { AppConfig, describeError, InjectConfig } from '#platform';
import { PeriodicChore } from './periodic-chore';

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Deletes receipts older than RECEIPT_RETENTION_SECONDS: once the database is connected, then hourly. Every worker sweeps; the deletes
 * are idempotent. A failed sweep is logged and tried again at the next one. (Receipts of failed batches are their
 * BullMQ jobs, which are kept until an operator retries or removes them.)
 */
@Injectable()
export class ReceiptRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReceiptRetention.name);
  private readonly chore: PeriodicChore;

  constructor(
    private readonly receipts: BatchReceiptStore,
    connection: StoreConnection,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.chore = new PeriodicChore(SWEEP_INTERVAL_MS, () => this.sweepAndLog(), { whenReady: () => connection.whenReady() });
  }

  onApplicationBootstrap(): void {
    this.chore.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.chore.stop();
  }

  /** One sweep, in one statement. Resolves to the number of receipts deleted. */
  sweep(): Promise<number> {
    return this.receipts.deleteOlderThan(this.config.receipts.retentionSeconds);
  }

  private sweepAndLog(): Promise<void> {
    return this.sweep().then(
      (deleted) => {
        if (deleted > 0) this.logger.log(`deleted ${deleted} receipts older than ${this.config.receipts.retentionSeconds} s`);
      },
      (error: unknown) => this.logger.warn(`receipt sweep failed: ${describeError(error)}`),
    );
  }
}
