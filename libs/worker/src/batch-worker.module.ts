import { Module } from '@nestjs/common';
import { EventStore } from '#contract';
import { PipelineModule } from '#pipeline';
import { APP_CONFIG, AppConfig } from '#platform';
import { BatchCoalescer, WRITE_GROUP_LIMITS } from './batch.coalescer';
import { BatchProcessor } from './batch.processor';
import { BatchWorker, workerSlots } from './batch.worker';
import { BufferedReconciliation } from './buffered-reconciliation';
import { PartitionMaintenance } from './partition-maintenance';
import { ReceiptRetention } from './receipt-retention';

/**
 * The queue processors and their write groups, the receipt retention sweep, the events' partition maintenance and the
 * reconciliation of the buffered counters. Imported only where the worker runs (the all-in-one app and apps/worker),
 * next to `PersistenceModule.forRoot({ role: 'writer' })`, which provides the stores they write through.
 */
@Module({
  imports: [PipelineModule],
  providers: [
    {
      provide: BatchCoalescer,
      useFactory: (store: EventStore, config: AppConfig) => {
        const maxBatches = workerSlots(config.queue).reduce((sum, { concurrency }) => sum + concurrency, 0);
        return new BatchCoalescer(store, { ...WRITE_GROUP_LIMITS, maxBatches });
      },
      inject: [EventStore, APP_CONFIG],
    },
    BatchProcessor,
    BatchWorker,
    BufferedReconciliation,
    ReceiptRetention,
    PartitionMaintenance,
  ],
})
export class BatchWorkerModule {}
