import { Module } from '@nestjs/common';
import { BufferedEvents } from '#common';
import { BatchProcessor } from './batch.processor';
import { BatchWorker } from './batch.worker';
import { DatabaseReadiness } from './database.readiness';
import { ReceiptRetention } from './receipt-retention';

/**
 * The queue processors, the receipt retention sweep and the database readiness check. Imported only where the worker
 * runs (the all-in-one app and apps/worker), next to `PersistenceModule.forRoot({ role: 'writer' })`.
 */
@Module({
  providers: [BatchProcessor, BatchWorker, BufferedEvents, DatabaseReadiness, ReceiptRetention],
})
export class BatchWorkerModule {}
