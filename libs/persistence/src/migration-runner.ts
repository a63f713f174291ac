import { DataSource, DataSourceOptions, MigrationExecutor } from 'typeorm';

// PostgreSQL advisory locks are per database: services on other databases never wait for each other.
const MIGRATION_LOCK = 'playsmart-ingest:migrations';

/**
 * Creates and initializes the DataSource, then applies the pending migrations (when `migrationsRun` says so) while
 * holding a PostgreSQL advisory lock. TypeORM takes no lock of its own, so two workers starting at once would both run
 * the same migration and one would fail; with the lock the others wait, then find nothing pending. The lock and the
 * migrations share one connection, which also suits the embedded database's pool of one.
 */
export async function initializeAndMigrate(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await dataSource.initialize();
  if (options.migrationsRun !== true) return dataSource;
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = options.migrationsTransactionMode ?? 'all';
      await executor.executePendingMigrations();
    } finally {
      // On a broken connection this fails too; the lock goes with the session, and the first error is the one to see.
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } catch (error) {
    await runner.release();
    await dataSource.destroy();
    throw error;
  }
  await runner.release();
  return dataSource;
}
