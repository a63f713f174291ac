import { Module } from '@nestjs/common';
import { BatchProcessor } from './batch.processor';
import { BatchWorker } from './batch.worker';
import { PersistenceModule } from './persistence.module';

/** The queue processors. Imported only where the worker runs: the all-in-one app and apps/worker. */
@Module({
  imports: [PersistenceModule],
  providers: [BatchProcessor, BatchWorker],
})
export class BatchWorkerModule {}
