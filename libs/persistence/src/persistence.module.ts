import { isMainThread } from 'node:worker_threads';
import { DynamicModule, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource, TypeOrmModule, TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BatchReceiptStore, EventPartitions, EventStore, StoreConnection } from '#contract';
import { APP_CONFIG, AppConfig } from '#platform';
import { dataSourceOptions, ensureDatabaseExists } from './data-source.options';
import { DATABASE_CONNECTION_OPTIONS, DatabaseConnection, DatabaseConnectionOptions } from './database-connection';
import { DatabaseReadiness } from './database.readiness';
import { EmbeddedDatabase } from './embedded-database';
import { TypeOrmBatchReceiptStore } from './typeorm-batch-receipt.store';
import { TypeOrmEventPartitions } from './typeorm-event-partitions';
import { TypeOrmEventStore } from './typeorm-event.store';

/**
 * How a process uses PostgreSQL.
 * - `writer` (the worker, the all-in-one service): owns the schema. At start-up it connects, creates the database
 *   outside production and applies pending migrations (unless DB_MIGRATIONS_RUN=false); while the database cannot be
 *   reached it starts all the same, not ready, and keeps trying (DatabaseConnection).
 * - `reader` (the gateway): reads receipts only. It never creates or migrates the database and does not connect at
 *   start-up: the first query does, so the gateway starts and keeps accepting events while PostgreSQL is down.
 */
export type PersistenceRole = 'writer' | 'reader';

export interface PersistenceOptions {
  role: PersistenceRole;
  /**
   * A writer that may run on the embedded development database when DATABASE_URL is not set (outside production):
   * the all-in-one service. One process at a time can open it, so a gateway or a worker started on its own needs
   * DATABASE_URL and refuses to start without it.
   */
  embedded?: boolean;
}

/** Holds the shared EmbeddedDatabase: the TypeORM options factory starts it, the closer below stops it. */
@Module({ providers: [EmbeddedDatabase], exports: [EmbeddedDatabase] })
class EmbeddedDatabaseModule {}

/**
 * Closes the embedded database on shutdown, after destroying the DataSource on it (whichever of this hook and
 * TypeOrmModule's runs first, the pool is closed before the database).
 */
@Injectable()
class EmbeddedDatabaseCloser implements OnApplicationShutdown {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly embedded: EmbeddedDatabase,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.embedded.url === undefined) return;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.embedded.stop();
  }
}

/**
 * TypeORM's options, and how DatabaseConnection connects. TypeOrmModule never connects itself (manualInitialization):
 * DatabaseConnection does, at start-up for a writer (retrying while the database cannot be reached) and on first use
 * for a reader.
 */
async function typeOrmOptions(config: AppConfig, embedded: EmbeddedDatabase, options: PersistenceOptions): Promise<TypeOrmModuleOptions> {
  const logger = new Logger('Persistence');
  const writer = options.role === 'writer';
  const { database } = config;

  if (database.embedded !== undefined) {
    if (!writer || options.embedded !== true) {
      throw new Error(
        'DATABASE_URL is required to run the gateway or the worker on its own. Without it only the all-in-one service ' +
          '(`npm start`) runs, on its embedded development database: one process at a time can open that one.',
      );
    }
    const url = await embedded.start(database.embedded);
    logger.log(`database: embedded PGlite at ${database.embedded.dir} (development; set DATABASE_URL for PostgreSQL)`);
    return {
      // One connection, kept open: PGlite is a single backend (see EmbeddedDatabase).
      ...dataSourceOptions(config, url, { max: 1, idleTimeoutMillis: 0 }),
      migrationsRun: false,
      manualInitialization: true,
    };
  }

  const { hostname, port, pathname } = new URL(database.url);
  // A worker thread (the all-in-one's writer) uses the database its main thread has named already.
  if (isMainThread)
    logger.log(`database: postgres ${hostname}:${port || 5432}${pathname}${writer ? '' : ' (receipts, connected on first use)'}`);
  return { ...dataSourceOptions(config, database.url), migrationsRun: false, manualInitialization: true };
}

function connectionOptions(config: AppConfig, options: PersistenceOptions): DatabaseConnectionOptions {
  const { database } = config;
  if (database.embedded !== undefined) {
    // Nobody else can migrate it (the TypeORM CLI cannot reach it), so DB_MIGRATIONS_RUN does not apply.
    return { role: options.role, migrate: true, describe: `embedded at ${database.embedded.dir}` };
  }
  const { hostname, port, pathname } = new URL(database.url);
  return {
    role: options.role,
    migrate: options.role === 'writer' && database.migrationsRun,
    prepare: () => ensureDatabaseExists(config),
    describe: `${hostname}:${port || 5432}${pathname}`,
  };
}

/**
 * The PostgreSQL connection and the ports over it: BatchReceiptStore, and for a writer EventStore, EventPartitions, StoreConnection and
 * the `database` readiness check (a writer's work depends on the database; the gateway's does not). Import it once, in
 * the root module, with the process's role; it is global. Without DATABASE_URL (outside production), a process
 * created with `embedded: true` starts the embedded development database and runs on it.
 */
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceOptions): DynamicModule {
    const writer = options.role === 'writer';
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        EmbeddedDatabaseModule,
        TypeOrmModule.forRootAsync({
          imports: [EmbeddedDatabaseModule],
          inject: [APP_CONFIG, EmbeddedDatabase],
          useFactory: (config: AppConfig, embedded: EmbeddedDatabase) => typeOrmOptions(config, embedded, options),
        }),
      ],
      providers: [
        {
          provide: DATABASE_CONNECTION_OPTIONS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => connectionOptions(config, options),
        },
        DatabaseConnection,
        EmbeddedDatabaseCloser,
        { provide: BatchReceiptStore, useClass: TypeOrmBatchReceiptStore },
        ...(writer
          ? [
              { provide: EventStore, useClass: TypeOrmEventStore },
              { provide: EventPartitions, useClass: TypeOrmEventPartitions },
              { provide: StoreConnection, useExisting: DatabaseConnection },
              DatabaseReadiness,
            ]
          : []),
      ],
      exports: [DatabaseConnection, BatchReceiptStore, ...(writer ? [EventStore, EventPartitions, StoreConnection] : [])],
    };
  }
}
