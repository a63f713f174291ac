import { Module } from '@nestjs/common';
import { PipelineModule } from '#pipeline';
import { BatchProcessor } from './batch.processor';
import { BatchWorker } from './batch.worker';
import { ReceiptRetention } from './receipt-retention';

/**
 * The queue processors and the receipt retention sweep. Imported only where the worker runs (the all-in-one app and
 * apps/worker), next to `PersistenceModule.forRoot({ role: 'writer' })`, which provides the stores they write through.
 */
@Module({
  imports: [PipelineModule],
  providers: [BatchProcessor, BatchWorker, ReceiptRetention],
})
export class BatchWorkerModule {}
