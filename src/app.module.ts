import { Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { HttpCoreModule } from '#common';
import { IngestModule } from '#ingest';
import { BatchWorkerModule, PersistenceModule } from '#persistence';

/** The all-in-one service: the HTTP gateway and the worker in one process. */
@Module({
  imports: [HttpCoreModule, AuthModule, PersistenceModule.forRoot({ role: 'writer' }), IngestModule, BatchWorkerModule],
})
export class AppModule {}
