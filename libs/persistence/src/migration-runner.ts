import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';

// PostgreSQL advisory locks are per database: services on other databases never wait for each other.
const MIGRATION_LOCK = 'playsmart-ingest:migrations';

/**
 * Applies the pending migrations of an initialized DataSource while holding a PostgreSQL advisory lock. TypeORM takes
 * no lock of its own, so two workers starting at once would both run the same migration and one would fail; with the
 * lock the others wait, then find nothing pending. The lock and the migrations share one connection, which also suits
 * the embedded database's pool of one.
 */
export async function migrateUnderLock(dataSource: DataSource, transaction: DataSourceOptions['migrationsTransactionMode']): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = transaction ?? 'all';
      await executor.executePendingMigrations();
    } finally {
      // On a broken connection this fails too; the lock goes with the session, and the first error is the one to see.
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}

/**
 * Initializes `dataSource` and, when `migrationsRun` says so, applies the pending migrations under the lock. On failure
 * the DataSource is left uninitialized, ready for another attempt.
 */
export async function initializeAndMigrateDataSource(dataSource: DataSource, migrationsRun: boolean): Promise<void> {
  await dataSource.initialize();
  if (!migrationsRun) return;
  try {
    await migrateUnderLock(dataSource, dataSource.options.migrationsTransactionMode);
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}

/** A new DataSource on `options`, initialized and migrated as initializeAndMigrateDataSource does. */
export async function initializeAndMigrate(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await initializeAndMigrateDataSource(dataSource, options.migrationsRun === true);
  return dataSource;
}
