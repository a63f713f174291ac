import { DynamicModule, Module } from '@nestjs/common';
import { PersistenceModule } from '#persistence';
import { AppConfig, ThreadCoreModule } from '#platform';
import { BatchWorkerModule } from '#worker';

/** What the all-in-one's writer thread runs: the queue worker and its chores, as a worker process does, without HTTP. */
@Module({})
export class WriterThreadModule {
  static of(config: AppConfig): DynamicModule {
    return {
      module: WriterThreadModule,
      imports: [ThreadCoreModule.of(config), PersistenceModule.forRoot({ role: 'writer' }), BatchWorkerModule],
    };
  }
}
