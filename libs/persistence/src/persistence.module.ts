import { Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '#common';
import { dataSourceOptions, ensureDatabaseExists } from './data-source.options';
import { EventStore } from './event.store';
import { TypeOrmEventStore } from './typeorm-event.store';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        await ensureDatabaseExists(config);
        const { hostname, port, pathname } = new URL(config.database.url);
        new Logger('Persistence').log(
          `database ${hostname}:${port || 5432}${pathname}${config.database.isDefault ? ' (development default; set DATABASE_URL)' : ''}`,
        );
        return dataSourceOptions(config);
      },
    }),
  ],
  providers: [{ provide: EventStore, useClass: TypeOrmEventStore }],
  exports: [EventStore],
})
export class PersistenceModule {}
