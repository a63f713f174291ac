import { Module } from '@nestjs/common';
import { HttpCoreModule } from '#common';
import { BatchWorkerModule, PersistenceModule } from '#persistence';

/** Queue processors only; its HTTP port serves nothing but health. */
@Module({
  imports: [HttpCoreModule, PersistenceModule.forRoot({ role: 'writer' }), BatchWorkerModule],
})
export class WorkerModule {}
