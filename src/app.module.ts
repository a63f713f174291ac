import { Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { IngestModule } from '#ingest';
import { PersistenceModule } from '#persistence';
import { QueueDashboardModule } from '#pipeline';
import { HttpCoreModule } from '#platform';
import { BatchWorkerModule } from '#worker';

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
