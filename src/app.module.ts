import { Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { HttpCoreModule, QueueDashboardModule } from '#common';
import { IngestModule } from '#ingest';
import { BatchWorkerModule, PersistenceModule } from '#persistence';

/** The all-in-one service: the HTTP gateway and the worker in one process. */
@Module({
  imports: [
    HttpCoreModule,
    AuthModule,
    PersistenceModule.forRoot({ role: 'writer', embedded: true }),
    IngestModule,
    BatchWorkerModule,
    QueueDashboardModule,
  ],
})
export class AppModule {}
