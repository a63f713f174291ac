import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { IngestModule } from '#ingest';
import { PersistenceModule } from '#persistence';
import { QueueDashboardModule } from '#pipeline';
import { AppConfig, HttpCoreModule } from '#platform';
import { BatchWorkerModule } from '#worker';
import { WriterThreadHostModule } from './writer-thread.host';

/**
 * The all-in-one service: the HTTP gateway and the queue worker in one process. Boot it with `forRoot`, which adds
 * the worker; the class alone serves the API without writing (what `npm run openapi` previews).
 */
@Module({
  imports: [HttpCoreModule, AuthModule, PersistenceModule.forRoot({ role: 'writer', embedded: true }), IngestModule, QueueDashboardModule],
})
export class AppModule {
  /**
   * With the queue worker in a worker thread of its own (WRITER_THREAD, the default on a PostgreSQL server), so that
   * writing neither starves under a full HTTP load nor delays answers; or on the main thread (on the embedded
   * database, or WRITER_THREAD=false).
   */
  static forRoot(config: Pick<AppConfig, 'queue'>): DynamicModule {
    return { module: AppModule, imports: [config.queue.writerThread ? WriterThreadHostModule : BatchWorkerModule] };
  }
}
