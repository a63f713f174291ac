import { Module } from '@nestjs/common';
import { HttpCoreModule } from '#common';
import { BatchWorkerModule } from '#persistence';

/** Queue processors only; its HTTP port serves nothing but health. */
@Module({
  imports: [HttpCoreModule, BatchWorkerModule],
})
export class WorkerModule {}
