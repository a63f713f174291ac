import { Module } from '@nestjs/common';
import { PipelineModule } from '#pipeline';
import { BatchProcessor } from './batch.processor';
import { BatchWorker } from './batch.worker';
import { BufferedReconciliation } from './buffered-reconciliation';
import { PartitionMaintenance } from './partition-maintenance';
import { ReceiptRetention } from './receipt-retention';

/**
 * The queue processors, the receipt retention sweep, the events' partition maintenance and the reconciliation of the
 * buffered counters. Imported only where the
 * worker runs (the all-in-one app and apps/worker), next to `PersistenceModule.forRoot({ role: 'writer' })`, which
 * provides the stores they write through.
 */
@Module({
  imports: [PipelineModule],
  providers: [BatchProcessor, BatchWorker, BufferedReconciliation, ReceiptRetention, PartitionMaintenance],
})
export class BatchWorkerModule {}
