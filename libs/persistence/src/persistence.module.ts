import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '#common';
import { BatchReceiptStore } from './batch-receipt.store';
import { dataSourceOptions, ensureDatabaseExists } from './data-source.options';
import { DatabaseConnection } from './database-connection';
import { EventStore } from './event.store';
import { TypeOrmBatchReceiptStore } from './typeorm-batch-receipt.store';
import { TypeOrmEventStore } from './typeorm-event.store';

/**
 * How a process uses PostgreSQL.
 * - `writer` (the worker, the all-in-one service): owns the schema. Start-up waits for the database, creates it
 *   outside production and applies pending migrations (unless DB_MIGRATIONS_RUN=false).
 * - `reader` (the gateway): reads receipts only. It never creates or migrates the database and does not connect at
 *   start-up: the first query does, so the gateway starts and keeps accepting events while PostgreSQL is down.
 */
export type PersistenceRole = 'writer' | 'reader';

export interface PersistenceOptions {
  role: PersistenceRole;
}

/**
 * The PostgreSQL connection and the ports over it: EventStore (writer only) and BatchReceiptStore. Import it once, in
 * the root module, with the process's role; it is global.
 */
@Module({})
export class PersistenceModule {
  static forRoot({ role }: PersistenceOptions): DynamicModule {
    const writer = role === 'writer';
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: async (config: AppConfig) => {
            if (writer) await ensureDatabaseExists(config);
            const { hostname, port, pathname } = new URL(config.database.url);
            new Logger('Persistence').log(
              `database ${hostname}:${port || 5432}${pathname}${writer ? '' : ' (receipts, connected on first use)'}` +
                (config.database.isDefault ? ' (development default; set DATABASE_URL)' : ''),
            );
            const options = dataSourceOptions(config);
            return writer
              ? options
              : // TypeOrmModule skips initialize() with manualInitialization: DatabaseConnection connects on first use.
                { ...options, migrationsRun: false, manualInitialization: true };
          },
        }),
      ],
      providers: [
        DatabaseConnection,
        { provide: BatchReceiptStore, useClass: TypeOrmBatchReceiptStore },
        ...(writer ? [{ provide: EventStore, useClass: TypeOrmEventStore }] : []),
      ],
      exports: [BatchReceiptStore, ...(writer ? [EventStore] : [])],
    };
  }
}
